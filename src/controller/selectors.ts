/**
 * VM selectors of a protection group: `{ name }`, `{ pattern }` (glob: `*` any run of characters,
 * `?` one character, everything else literal) or `{ id }` (VM id or hypervisor ref). Names and
 * patterns match case-insensitively: Hyper-V names are, and vSphere names differing only by case
 * in one group are a trap rather than a feature.
 */
import type { VmInfo } from "../domain/hypervisor.js";
import type { VmSelector } from "./config-schema.js";

const globCache = new Map<string, RegExp>();

export function globToRegExp(pattern: string): RegExp {
  let re = globCache.get(pattern);
  if (!re) {
    const body = [...pattern]
      .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&")))
      .join("");
    re = new RegExp(`^${body}$`, "is");
    globCache.set(pattern, re);
  }
  return re;
}

export function matchesSelector(vm: Pick<VmInfo, "id" | "ref" | "name">, selector: VmSelector): boolean {
  if ("id" in selector) return selector.id === vm.id || selector.id === vm.ref;
  if ("name" in selector) return selector.name.toLowerCase() === vm.name.toLowerCase();
  return globToRegExp(selector.pattern).test(vm.name);
}

/** A short text of the selector for reasons: `name "sql-01"`, `pattern "web-*"`, `id "vm-42"`. */
export function describeSelector(selector: VmSelector): string {
  if ("id" in selector) return `id "${selector.id}"`;
  if ("name" in selector) return `name "${selector.name}"`;
  return `pattern "${selector.pattern}"`;
}
