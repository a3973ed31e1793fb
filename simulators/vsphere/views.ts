/** ContainerView (ViewManager.CreateContainerView): a live list of entities of some types in a container. */
import { descendants, isMoSubtype, type Entity, type ManagedObject, type Prop } from "./inventory.js";
import type { MoRef } from "./vim-value.js";

export class ContainerView implements ManagedObject {
  constructor(
    readonly ref: MoRef,
    readonly container: Entity,
    readonly types: readonly string[],
    readonly recursive: boolean,
    readonly model: unknown,
  ) {}

  view(): Entity[] {
    return descendants(this.container, this.recursive).filter(
      (e) => this.types.length === 0 || this.types.some((t) => isMoSubtype(e.ref.type, t)),
    );
  }

  properties(): Record<string, Prop> {
    return {
      view: ["ManagedObjectReference[]", this.view().map((e) => e.ref)],
      container: ["ManagedObjectReference", this.container.ref],
      type: ["xsd:string[]", [...this.types]],
      recursive: ["xsd:boolean", this.recursive],
    };
  }
}
