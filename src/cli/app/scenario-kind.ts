/** Telling a vSphere simulator scenario from a Hyper-V one, for `snapvisor sim --scenario FILE`. */
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { SnapvisorError, messageOf } from "../../domain/errors.js";

/**
 * Which simulator a scenario file is for, from its shape: a vSphere scenario lists `datacenters`,
 * a Hyper-V one `nodes`. Each simulator then validates the file in full.
 */
export function scenarioKind(doc: unknown, file: string): "vsphere" | "hyperv" {
  const keys = doc !== null && typeof doc === "object" ? Object.keys(doc) : [];
  if (keys.includes("datacenters")) return "vsphere";
  if (keys.includes("nodes")) return "hyperv";
  throw new SnapvisorError(
    "USAGE",
    `sim: scenario "${file}" is neither a vSphere scenario (with datacenters) nor a Hyper-V one (with nodes); its keys are ${keys.join(", ") || "(none)"}`,
  );
}

export async function scenarioKindOfFile(file: string): Promise<"vsphere" | "hyperv"> {
  let doc: unknown;
  try {
    const text = await readFile(file, "utf8");
    doc = file.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new SnapvisorError("USAGE", `sim: cannot read scenario "${file}": ${messageOf(err)}`, {
      cause: err,
    });
  }
  return scenarioKind(doc, file);
}
