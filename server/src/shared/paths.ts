import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root (prisma/, node_modules/, the default .data/), from src/ or dist/ alike. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
