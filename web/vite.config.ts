// The app reads every address (functions, Firebase, Stripe) from /config.json at start, so one
// build serves any deployment. Deployed, config.json is a static file beside index.html
// (docs/frontend.md); locally the stack writes it and names it in BILLING_WEB_CONFIG, and this
// plugin serves that file in both `vite` (dev) and `vite preview`.
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

type Next = (error?: unknown) => void;

function serveConfig(): Plugin {
  const handler = (req: IncomingMessage, res: ServerResponse, next: Next) => {
    const path = process.env.BILLING_WEB_CONFIG;
    if (!path || req.url?.split("?")[0] !== "/config.json") return next();
    res.setHeader("Content-Type", "application/json");
    res.setHeader("Cache-Control", "no-cache");
    res.end(readFileSync(path));
  };
  return {
    name: "billing-config",
    configureServer: (server) => void server.middlewares.use(handler),
    configurePreviewServer: (server) => void server.middlewares.use(handler),
  };
}

export default defineConfig({
  plugins: [react(), serveConfig()],
  // The local stack gives each stack its own cache, so two stacks never rewrite one.
  cacheDir: process.env.BILLING_WEB_CACHE_DIR ?? "node_modules/.vite",
  // Pre-bundle every dependency at start: a dependency found later makes Vite reload the page,
  // which a person barely notices and a browser test does.
  optimizeDeps: {
    include: [
      "react",
      "react-dom/client",
      "react/jsx-runtime",
      "firebase/app",
      "firebase/auth",
      "firebase/firestore",
      "openapi-fetch",
      "@stripe/stripe-js/pure",
      "@stripe/react-stripe-js",
    ],
  },
  server: { strictPort: true, warmup: { clientFiles: ["./src/main.tsx"] } },
  preview: { strictPort: true },
});
