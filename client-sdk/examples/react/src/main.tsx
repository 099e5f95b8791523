import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { agora } from "./agora.js";
import { App } from "./App.js";
import "./style.css";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root");
createRoot(root).render(
  <StrictMode>
    <agora.AgoraProvider>
      <App />
    </agora.AgoraProvider>
  </StrictMode>,
);
