import { initializeApp } from "firebase/app";
import { connectAuthEmulator, getAuth, type Auth } from "firebase/auth";
import { connectFirestoreEmulator, getFirestore, type Firestore } from "firebase/firestore";
import type { AppConfig } from "./config";

export interface Firebase {
  auth: Auth;
  db: Firestore;
}

export function startFirebase(config: AppConfig): Firebase {
  const app = initializeApp(config.firebase);
  const auth = getAuth(app);
  const db = getFirestore(app);
  const emulators = config.emulators ?? {};
  if (emulators.auth) connectAuthEmulator(auth, emulators.auth, { disableWarnings: true });
  if (emulators.firestore) {
    const [host, port] = emulators.firestore.split(":");
    connectFirestoreEmulator(db, host ?? "127.0.0.1", Number(port));
  }
  return { auth, db };
}
