/**
 * PropertyCollector reads: one object's properties, or every object of a type under a container
 * view, paged with RetrievePropertiesEx / ContinueRetrievePropertiesEx so 1,000 VMs take a handful
 * of round trips (`maxObjects` per page). A page loop that stops early cancels the server-side token.
 */
import type { VimClient } from "./client.js";
import { vsphereError } from "./errors.js";
import { parseAnswer, retrieveResultSchema, type ObjectContent } from "./parse.js";
import type { Plain, PlainObject } from "./soap/decode.js";
import { faultError, taskFault } from "./soap/fault.js";
import type { MoRef, SoapObject } from "./soap/envelope.js";

export interface RetrieveOptions {
  readonly signal?: AbortSignal | undefined;
  /** Objects per page; the server may answer fewer. */
  readonly pageSize?: number;
}

/** Properties of one object as name -> plain value; missing properties are absent. */
export async function readProperties(
  client: VimClient,
  obj: MoRef,
  paths: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, Plain>> {
  const spec: SoapObject = {
    _type: "PropertyFilterSpec",
    propSet: [{ _type: "PropertySpec", type: obj.type, pathSet: [...paths] }],
    objectSet: [{ _type: "ObjectSpec", obj, skip: false }],
  };
  const [content] = await retrieveAll(client, [spec], { signal });
  const out = new Map<string, Plain>();
  if (content === undefined) {
    throw vsphereError(
      "VSPHERE_NOT_FOUND",
      `${obj.type} ${obj.value} was not found by the property collector`,
      {
        details: { moref: obj.value },
      },
    );
  }
  const missing = content.missingSet[0];
  if (missing !== undefined) {
    const parsed = taskFault({
      fault: missing.fault.fault as PlainObject,
      localizedMessage: missing.fault.localizedMessage,
    });
    throw faultError(parsed, `Reading property ${missing.path}`, `${obj.type} ${obj.value}`);
  }
  for (const p of content.propSet) out.set(p.name, p.val as Plain);
  return out;
}

/**
 * Every object answered for `specSet`, following continuation tokens. Some servers (vcsim) report an
 * expired session per property (`missingSet` with NotAuthenticated) instead of a SOAP fault: that
 * is turned into the same re-login once, then VSPHERE_NOT_AUTHENTICATED.
 */
export async function retrieveAll(
  client: VimClient,
  specSet: readonly SoapObject[],
  options: RetrieveOptions = {},
): Promise<ObjectContent[]> {
  const generation = client.generation;
  const first = await retrievePages(client, specSet, options);
  if (!first.some(unauthenticated)) return first;
  await client.relogin(options.signal, generation);
  const again = await retrievePages(client, specSet, options);
  const stale = again.find(unauthenticated);
  if (stale !== undefined) {
    throw vsphereError(
      "VSPHERE_NOT_AUTHENTICATED",
      `Reading ${stale.obj.type} ${stale.obj.value} is refused: not authenticated after logging in again`,
    );
  }
  return again;
}

function unauthenticated(c: ObjectContent): boolean {
  return c.missingSet.some((m) => m.fault.fault._type === "NotAuthenticated");
}

async function retrievePages(
  client: VimClient,
  specSet: readonly SoapObject[],
  options: RetrieveOptions,
): Promise<ObjectContent[]> {
  const pc = client.content.propertyCollector;
  const call = { signal: options.signal, target: "PropertyCollector" };
  const first = await client.callPlain(
    "RetrievePropertiesEx",
    {
      _this: pc,
      specSet: [...specSet],
      options: { _type: "RetrieveOptions", maxObjects: options.pageSize ?? 500 },
    },
    call,
  );
  if (first === undefined || first === "") return [];
  let page = parseAnswer(retrieveResultSchema, first, "RetrievePropertiesEx");
  const out: ObjectContent[] = [...page.objects];
  try {
    while (page.token !== undefined) {
      const next = await client.callPlain(
        "ContinueRetrievePropertiesEx",
        { _this: pc, token: page.token },
        call,
      );
      page = parseAnswer(retrieveResultSchema, next, "ContinueRetrievePropertiesEx");
      out.push(...page.objects);
    }
  } catch (err) {
    if (page.token !== undefined) {
      await client
        .call("CancelRetrievePropertiesEx", { _this: pc, token: page.token })
        .catch(() => undefined);
    }
    throw err;
  }
  return out;
}

export interface TypePaths {
  readonly type: string;
  readonly paths: readonly string[];
}

/**
 * Properties of every object of the given types in the inventory, through one recursive container
 * view and one paged RetrievePropertiesEx (a PropertySpec per type): three round trips plus one per
 * page, whatever the inventory size. Objects come back mixed; callers group by `obj.type`.
 */
export async function retrieveFromView(
  client: VimClient,
  specs: readonly TypePaths[],
  options: RetrieveOptions = {},
): Promise<ObjectContent[]> {
  const { viewManager, rootFolder } = client.content;
  const [viewEl] = await client.call(
    "CreateContainerView",
    { _this: viewManager, container: rootFolder, type: specs.map((s) => s.type), recursive: true },
    { signal: options.signal },
  );
  const view: MoRef = { type: "ContainerView", value: viewEl?.text ?? "" };
  try {
    const spec: SoapObject = {
      _type: "PropertyFilterSpec",
      propSet: specs.map((s) => ({ _type: "PropertySpec", type: s.type, pathSet: [...s.paths] })),
      objectSet: [
        {
          _type: "ObjectSpec",
          obj: view,
          skip: true,
          selectSet: [
            { _type: "TraversalSpec", name: "view", type: "ContainerView", path: "view", skip: false },
          ],
        },
      ],
    };
    return await retrieveAll(client, [spec], options);
  } finally {
    await client.call("DestroyView", { _this: view }).catch(() => undefined);
  }
}

/** The value of property `name` in an ObjectContent, or undefined. */
export function prop(content: ObjectContent, name: string): Plain | undefined {
  return content.propSet.find((p) => p.name === name)?.val as Plain | undefined;
}
