import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { loadConfig } from "./config";
import { startFirebase } from "./firebase";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);
loadConfig().then(
  (config) =>
    root.render(
      <StrictMode>
        <App config={config} firebase={startFirebase(config)} />
      </StrictMode>,
    ),
  (error: unknown) => root.render(<p role="alert">Cannot start: {String(error)}</p>),
);
