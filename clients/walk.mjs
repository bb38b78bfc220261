// Walks journey.ts (compiled into generated/js by tests/test_clients.py) against a station:
// node walk.mjs http://127.0.0.1:8000 prints what it found as JSON.
import { walk } from "./generated/js/journey.js";

process.stdout.write(JSON.stringify(await walk(process.argv[2])));
