/**
 * The simulator side of the local transport: a Unix socket where each ps-exe process opens one
 * PowerShell session (newline-delimited JSON frames: hello, in, end / out, err, exit).
 */
import { createServer, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";
import type { HypervModel } from "./model.js";
import type { PsGrammar } from "./ps/grammar.js";
import { PsSession } from "./session.js";

export class PsRelay {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.#server = server;
  }

  static async listen(path: string, grammar: PsGrammar, model: HypervModel): Promise<PsRelay> {
    const relay = new PsRelay(createServer((socket) => relay.#serve(socket, grammar, model)));
    await new Promise<void>((resolve, reject) => {
      relay.#server.once("error", reject);
      relay.#server.listen(path, resolve);
    });
    return relay;
  }

  #serve(socket: Socket, grammar: PsGrammar, model: HypervModel): void {
    this.#sockets.add(socket);
    socket.setEncoding("utf8");
    const send = (msg: object): void => {
      if (!socket.destroyed) socket.write(JSON.stringify(msg) + "\n");
    };
    let session: PsSession | undefined;
    const lines = createInterface({ input: socket });
    lines.on("line", (line) => {
      const msg = JSON.parse(line) as { hello?: string; in?: string; end?: boolean };
      if (msg.hello !== undefined) {
        const node = model.node(msg.hello);
        if (!node || node.state === "Down") {
          send({ err: `Cannot start PowerShell on ${msg.hello}: the node is down.\n`, exit: 1 });
          return;
        }
        session = new PsSession(grammar, model, node.name, {
          stdout: (t) => send({ out: t }),
          stderr: (t) => send({ err: t }),
        });
      } else if (msg.in !== undefined) void session?.feed(msg.in);
      else if (msg.end) void session?.end().then(() => send({ exit: 0 }));
    });
    socket.on("close", () => {
      session?.close();
      this.#sockets.delete(socket);
    });
    socket.on("error", () => socket.destroy());
    // readline re-emits its input's errors: a client killed with unread data resets the socket
    // (ECONNRESET), which must end that session, not the simulator.
    lines.on("error", () => socket.destroy());
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
