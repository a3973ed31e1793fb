/**
 * vim25 methods: each handler checks its `_this`, parses arguments from the request body and answers
 * with a typed value or throws a VimFault. Authentication is checked by the caller (soap-server.ts).
 * Session, view, PropertyCollector and event methods live here; VM methods in methods-vm.ts.
 */
import { entityScope, type EventFilter } from "./events.js";
import { Entity } from "./inventory.js";
import { need, none, type CallContext, type MethodDef } from "./method-support.js";
import { VM_METHODS } from "./methods-vm.js";
import type { Session, VsphereModel } from "./model.js";
import { parseFilterSpec, retrieve } from "./property-collector.js";
import { boolOf, child, childrenOf, morefOf, textOf, type XNode } from "./soap-codec.js";
import { Task } from "./tasks.js";
import { ContainerView } from "./views.js";
import { MoRef, data, faults, type DataObject } from "./vim-value.js";
import { waitForUpdates, createFilter } from "./wait-for-updates.js";

export type { CallContext, MethodDef, MethodResult } from "./method-support.js";

function aboutInfo(model: VsphereModel): DataObject {
  const vc = model.scenario.product === "vcenter";
  return data("AboutInfo", {
    name: vc ? "VMware vCenter Server" : "VMware ESXi",
    fullName: vc ? "VMware vCenter Server 6.5.0 build-5973321" : "VMware ESXi 6.5.0 build-5969303",
    vendor: "VMware, Inc.",
    version: "6.5.0",
    build: vc ? "5973321" : "5969303",
    localeVersion: "INTL",
    localeBuild: "000",
    osType: vc ? "linux-x64" : "vmnix-x86",
    productLineId: vc ? "vpx" : "embeddedEsx",
    apiType: vc ? "VirtualCenter" : "HostAgent",
    apiVersion: "6.5",
    instanceUuid: vc ? model.instanceUuid : undefined,
    licenseProductName: vc ? "VMware VirtualCenter Server" : "VMware ESX Server",
    licenseProductVersion: "6.0",
  });
}

function parseEventFilter(ctx: CallContext, n: XNode): EventFilter {
  const byEntity = child(n, "entity");
  const ref = morefOf(byEntity ? child(byEntity, "entity") : undefined);
  const time = child(n, "time");
  const date = (s: string | undefined) => (s ? new Date(s) : undefined);
  const users = child(n, "userName");
  const max = textOf(n, "maxCount");
  const f: EventFilter = {
    ...(ref && byEntity
      ? { entity: { ref, recursion: (textOf(byEntity, "recursion") ?? "self") as "self" } }
      : {}),
    eventTypeId: childrenOf(n, "eventTypeId").map((x) => x.text.trim()),
    ...(time && textOf(time, "beginTime") ? { beginTime: date(textOf(time, "beginTime"))! } : {}),
    ...(time && textOf(time, "endTime") ? { endTime: date(textOf(time, "endTime"))! } : {}),
    ...(users ? { userNames: childrenOf(users, "userList").map((x) => x.text) } : {}),
    ...(max !== undefined ? { maxCount: Number(max) } : {}),
  };
  if (f.entity && !(ctx.model.get(f.entity.ref) instanceof Entity))
    throw faults.managedObjectNotFound(f.entity.ref);
  return f;
}

export const METHODS: Record<string, MethodDef> = {
  RetrieveServiceContent: {
    on: "ServiceInstance",
    auth: false,
    handler: (ctx) => ({
      type: "ServiceContent",
      value: data("ServiceContent", {
        rootFolder: ctx.model.rootFolder.ref,
        propertyCollector: new MoRef("PropertyCollector", "propertyCollector"),
        viewManager: new MoRef("ViewManager", "ViewManager"),
        about: aboutInfo(ctx.model),
        sessionManager: new MoRef("SessionManager", "SessionManager"),
        eventManager:
          ctx.model.scenario.product === "vcenter"
            ? new MoRef("EventManager", "EventManager")
            : new MoRef("EventManager", "ha-eventmgr"),
        taskManager: new MoRef("TaskManager", "TaskManager"),
      }),
    }),
  },
  Login: {
    on: "SessionManager",
    auth: false,
    handler: (ctx, _self, body) => {
      const { user: u, password } = ctx.model.scenario.credentials;
      if (textOf(body, "userName") !== u || textOf(body, "password") !== password)
        throw faults.invalidLogin();
      const now = ctx.model.clock.now();
      const session: Session = {
        key: crypto.randomUUID(),
        userName: u,
        loginTime: now,
        lastActiveTime: now,
        callCount: 0,
        userAgent: ctx.userAgent,
        ipAddress: ctx.ipAddress,
        owned: new Set(),
      };
      ctx.login(session);
      return { type: "UserSession", value: userSession(session) };
    },
  },
  Logout: {
    on: "SessionManager",
    auth: true,
    handler: (ctx) => {
      ctx.logout();
      return none;
    },
  },
  SessionIsActive: {
    on: "SessionManager",
    auth: true,
    handler: (ctx, _self, body) => {
      const id = textOf(body, "sessionID");
      const s = id ? ctx.model.sessions.get(id) : undefined;
      return { type: "xsd:boolean", value: s !== undefined && s.userName === textOf(body, "userName") };
    },
  },
  CreateContainerView: {
    on: "ViewManager",
    auth: true,
    handler: (ctx, _self, body) => {
      const containerRef = need(morefOf(child(body, "container")), "container");
      const container = ctx.model.get(containerRef);
      if (!(container instanceof Entity)) throw faults.managedObjectNotFound(containerRef);
      const types = childrenOf(body, "type").map((t) => t.text.trim());
      const view = new ContainerView(
        new MoRef("ContainerView", `session[${ctx.session!.key}]${crypto.randomUUID()}`),
        container,
        types,
        boolOf(body, "recursive") ?? false,
        ctx.model,
      );
      ctx.model.register(view);
      ctx.session!.owned.add(view.ref.key);
      return { type: "ManagedObjectReference", value: view.ref };
    },
  },
  DestroyView: {
    on: "View",
    auth: true,
    handler: (ctx, self) => {
      ctx.model.objects.delete(self.key);
      ctx.session?.owned.delete(self.key);
      return none;
    },
  },
  RetrievePropertiesEx: {
    on: "PropertyCollector",
    auth: true,
    handler: (ctx, _self, body) => {
      const specs = childrenOf(body, "specSet").map(parseFilterSpec);
      const options = child(body, "options");
      const max = options ? textOf(options, "maxObjects") : undefined;
      const cap = ctx.model.scenario.options.maxObjectsPerPage;
      const size = max !== undefined && Number(max) > 0 ? Math.min(Number(max), cap) : cap;
      return {
        type: "RetrieveResult",
        value: ctx.pager.page(ctx.session!.key, retrieve(specs, ctx.model), size),
      };
    },
  },
  ContinueRetrievePropertiesEx: {
    on: "PropertyCollector",
    auth: true,
    handler: (ctx, _self, body) => ({
      type: "RetrieveResult",
      value: ctx.pager.continue(ctx.session!.key, need(textOf(body, "token"), "token")),
    }),
  },
  CancelRetrievePropertiesEx: {
    on: "PropertyCollector",
    auth: true,
    handler: (ctx, _self, body) => {
      ctx.pager.cancel(need(textOf(body, "token"), "token"));
      return none;
    },
  },
  RetrieveProperties: {
    on: "PropertyCollector",
    auth: true,
    handler: (ctx, _self, body) => ({
      type: "ObjectContent",
      value: retrieve(childrenOf(body, "specSet").map(parseFilterSpec), ctx.model),
    }),
  },
  CreateFilter: {
    on: "PropertyCollector",
    auth: true,
    handler: (ctx, _self, body) => ({ type: "ManagedObjectReference", value: createFilter(ctx, body) }),
  },
  DestroyPropertyFilter: {
    on: "PropertyFilter",
    auth: true,
    handler: (ctx, self) => {
      ctx.model.objects.delete(self.key);
      ctx.session?.owned.delete(self.key);
      return none;
    },
  },
  WaitForUpdatesEx: {
    on: "PropertyCollector",
    auth: true,
    handler: async (ctx, _self, body) => ({ type: "UpdateSet", value: await waitForUpdates(ctx, body) }),
  },
  QueryEvents: {
    on: "EventManager",
    auth: true,
    handler: (ctx, _self, body) => {
      const filter = parseEventFilter(ctx, need(child(body, "filter"), "filter"));
      let scope: Set<string> | undefined;
      if (filter.entity) {
        const root = ctx.model.get(filter.entity.ref) as Entity;
        scope = entityScope(root, filter.entity.recursion, (e) => ctx.model.below(e));
      }
      return {
        type: "Event",
        value: ctx.model.events.query(filter, (keys) => !scope || keys.some((k) => scope.has(k))),
      };
    },
  },
  CancelTask: {
    on: "Task",
    auth: true,
    handler: (ctx, self) => {
      const t = ctx.model.get(self);
      if (!(t instanceof Task)) throw faults.managedObjectNotFound(self);
      t.cancel(ctx.model.clock.now());
      return none;
    },
  },
  ...VM_METHODS,
};

export function userSession(s: Session): DataObject {
  return data("UserSession", {
    key: s.key,
    userName: s.userName,
    fullName: s.userName,
    loginTime: s.loginTime,
    lastActiveTime: s.lastActiveTime,
    locale: "en",
    messageLocale: "en",
    extensionSession: false,
    ipAddress: s.ipAddress,
    userAgent: s.userAgent,
    callCount: s.callCount,
  });
}

/** The managed object type behind `_this` (for `on` checks); singletons are matched by type. */
export function receiverType(ctx: CallContext, self: MoRef): string | undefined {
  if (
    [
      "ServiceInstance",
      "SessionManager",
      "ViewManager",
      "PropertyCollector",
      "EventManager",
      "TaskManager",
    ].includes(self.type)
  ) {
    return self.type;
  }
  const o = ctx.model.get(self);
  if (!o) return undefined;
  if (o instanceof Task) return "Task";
  return o.ref.type;
}
