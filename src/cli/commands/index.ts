import type { Command } from "../command.js";
import { backup } from "./backup.js";
import { backupImage } from "./backup-image.js";
import { demo } from "./demo.js";
import { inventory } from "./inventory.js";
import { sim } from "./sim.js";
import { exportPoint } from "./export.js";
import { gc } from "./gc.js";
import { pointsList, pointsShow } from "./points.js";
import { prune } from "./prune.js";
import { repoInit, repoUnlock } from "./repo.js";
import { restore } from "./restore.js";
import { verify } from "./verify.js";

/** Every CLI command; `run.ts` picks the longest matching path. */
export const commands: readonly Command[] = [
  demo,
  sim,
  inventory,
  backup,
  repoInit,
  repoUnlock,
  backupImage,
  pointsList,
  pointsShow,
  restore,
  exportPoint,
  verify,
  prune,
  gc,
];
