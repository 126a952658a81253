import { initializeApp } from "firebase/app";
import { connectAuthEmulator, getAuth, type Auth } from "firebase/auth";
import { connectFirestoreEmulator, getFirestore, initializeFirestore, type Firestore } from "firebase/firestore";
import type { AppConfig } from "./config";

export interface Firebase {
  auth: Auth;
  db: Firestore;
}

export function startFirebase(config: AppConfig): Firebase {
  const app = initializeApp(config.firebase);
  const auth = getAuth(app);
  const emulators = config.emulators ?? {};
  // The local Firestore emulator speaks plain http://, where a browser cannot stream a
  // request (that needs HTTP/2): its listeners then use long polling.
  const db = emulators.firestore
    ? initializeFirestore(app, { experimentalForceLongPolling: true })
    : getFirestore(app);
  if (emulators.auth) connectAuthEmulator(auth, emulators.auth, { disableWarnings: true });
  if (emulators.firestore) {
    const [host, port] = emulators.firestore.split(":");
    connectFirestoreEmulator(db, host ?? "127.0.0.1", Number(port));
  }
  return { auth, db };
}
