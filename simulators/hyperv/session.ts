/**
 * One PowerShell process as `powershell -NoProfile -NonInteractive -Command -` runs it: lines read
 * from stdin are executed one by one in a session that keeps its variables; output goes to stdout,
 * errors to stderr. Both transports (the node-powershell executable and SSH exec) drive this.
 */
import { clusterCmdlets } from "./cmdlets-cluster.js";
import { hypervCmdlets } from "./cmdlets-hyperv.js";
import { cimCmdlets } from "./cim.js";
import type { HostContext } from "./host-context.js";
import type { HypervModel } from "./model.js";
import type { CmdletDef } from "./ps/binding.js";
import { coreCmdlets } from "./ps/cmdlets-core.js";
import type { PsGrammar } from "./ps/grammar.js";
import { Interpreter } from "./ps/interp.js";

/** A progress record as Windows PowerShell serializes it to a redirected stderr (CLIXML). */
export const PROGRESS_NOISE =
  '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj></Objs>\r\n';

export interface SessionOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

export class PsSession {
  readonly #interp: Interpreter;
  readonly #model: HypervModel;
  readonly #closed: Promise<void>;
  #close!: () => void;
  #queue: Promise<void> = Promise.resolve();
  #pending = "";

  constructor(grammar: PsGrammar, model: HypervModel, localNode: string, out: SessionOutput) {
    this.#model = model;
    this.#closed = new Promise((resolve) => (this.#close = resolve));
    const ctx: HostContext = { model, localNode };
    const cmdlets = new Map<string, CmdletDef>();
    for (const table of [coreCmdlets, hypervCmdlets(ctx), clusterCmdlets(ctx), cimCmdlets(ctx)]) {
      for (const [name, def] of Object.entries(table)) cmdlets.set(name.toLowerCase(), def);
    }
    this.#interp = new Interpreter(grammar, {
      cmdlets,
      writeStdout: (t) => out.stdout(t),
      writeStderr: (t) => out.stderr(t),
      createScriptBlock: (text) => this.#interp.parseScriptBlock(text),
      beforeCommand: (name) => this.#beforeCommand(name),
    });
    this.#interp.global.set("env:COMPUTERNAME", localNode);
    if (model.faults.peek("stderr-noise")) out.stderr(PROGRESS_NOISE);
  }

  /** A "hang" rule holds the command until the session is closed (the client timed out). */
  async #beforeCommand(name: string): Promise<void> {
    const hang = this.#model.faults.take("hang", (r) => r.command.toLowerCase() === name.toLowerCase());
    if (hang) {
      await this.#closed;
      throw new Error("session closed");
    }
  }

  /** Feeds stdin text; complete lines run in order. Resolves when they have run. */
  feed(text: string): Promise<void> {
    this.#pending += text;
    let nl: number;
    while ((nl = this.#pending.indexOf("\n")) >= 0) {
      const line = this.#pending.slice(0, nl).replace(/\r$/, "");
      this.#pending = this.#pending.slice(nl + 1);
      if (line.trim() === "") continue;
      this.#queue = this.#queue.then(() => this.#interp.runTopLevel(line));
    }
    return this.#queue;
  }

  /** End of stdin: a last unterminated line still runs. */
  async end(): Promise<void> {
    if (this.#pending.trim() !== "") {
      const line = this.#pending;
      this.#pending = "";
      this.#queue = this.#queue.then(() => this.#interp.runTopLevel(line));
    }
    await this.#queue;
  }

  close(): void {
    this.#close();
  }
}
