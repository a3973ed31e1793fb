/**
 * A small terminal emulator for tests: it interprets what a program writes to a TTY the way a
 * VT100-style terminal does (autowrap at the width, scrolling, cursor moves, erase), so a test can
 * assert what the user ends up seeing rather than which escape codes were sent. It knows only the
 * sequences a progress display needs and throws on any other, so a new one cannot slip by unchecked.
 */
export interface VirtualTerminalOptions {
  readonly columns: number;
  /** Visible rows; lines scrolled above them stay in the scrollback, out of the cursor's reach. */
  readonly rows?: number;
  /** The width the stream reports, when it differs (a pty nobody sized reports 0). */
  readonly reportedColumns?: number;
  /** A pty's output processing turns "\n" into "\r\n" (onlcr); a raw stream would not. */
  readonly newlineReturns?: boolean;
}

export class VirtualTerminal {
  readonly columns: number;
  readonly rows: number;
  readonly #newlineReturns: boolean;
  readonly #reportedColumns: number;
  readonly #lines: string[][] = [[]];
  #row = 0;
  #col = 0;
  /** Index of the first visible line. */
  #top = 0;

  constructor(options: VirtualTerminalOptions) {
    this.columns = options.columns;
    this.rows = options.rows ?? 1_000_000;
    this.#newlineReturns = options.newlineReturns ?? true;
    this.#reportedColumns = options.reportedColumns ?? options.columns;
  }

  /** Every line written, scrollback included, trailing blanks and trailing empty lines removed. */
  text(): string[] {
    const out = this.#lines.map((l) => l.join("").replace(/\s+$/, ""));
    while (out.length > 0 && out[out.length - 1] === "") out.pop();
    return out;
  }

  /** A fake TTY stream that feeds this terminal, as `process.stderr` would be. */
  stream(): {
    write(chunk: string): boolean;
    readonly isTTY: true;
    readonly columns: number;
    readonly rows: number;
  } {
    return {
      write: (chunk: string) => {
        this.write(chunk);
        return true;
      },
      isTTY: true,
      columns: this.#reportedColumns,
      rows: this.rows === 1_000_000 ? 0 : this.rows,
    };
  }

  write(data: string): void {
    for (let i = 0; i < data.length; i++) {
      const ch = data[i] ?? "";
      if (ch === "\x1b") {
        const m = /^\[([0-9;?]*)([A-Za-z])/.exec(data.slice(i + 1));
        if (!m) throw new Error(`unsupported escape at ${JSON.stringify(data.slice(i, i + 8))}`);
        this.#csi(m[1] ?? "", m[2] ?? "");
        i += m[0].length;
      } else if (ch === "\n") {
        this.#lineFeed();
        if (this.#newlineReturns) this.#col = 0;
      } else if (ch === "\r") this.#col = 0;
      else if (ch === "\x07") continue;
      else if (ch < " ") throw new Error(`unsupported control character ${JSON.stringify(ch)}`);
      else this.#put(ch);
    }
  }

  #line(row: number): string[] {
    while (this.#lines.length <= row) this.#lines.push([]);
    return this.#lines[row] ?? [];
  }

  #put(ch: string): void {
    if (this.#col >= this.columns) {
      // Autowrap: a character past the last column starts the next line.
      this.#lineFeed();
      this.#col = 0;
    }
    const line = this.#line(this.#row);
    while (line.length < this.#col) line.push(" ");
    line[this.#col] = ch;
    this.#col++;
  }

  #lineFeed(): void {
    this.#row++;
    this.#line(this.#row);
    if (this.#row - this.#top >= this.rows) this.#top = this.#row - this.rows + 1;
  }

  #csi(params: string, final: string): void {
    const n = params === "" ? undefined : Number(params);
    switch (final) {
      case "m": // colours: no effect on the text
        return;
      case "F": // cursor to the start of the n-th previous line
      case "A": // cursor up n lines
        this.#row = Math.max(this.#top, this.#row - (n ?? 1));
        if (final === "F") this.#col = 0;
        return;
      case "G": // cursor to column n
        this.#col = Math.max(0, (n ?? 1) - 1);
        return;
      case "K": // erase in line: 0 to the end, 2 the whole line
        if ((n ?? 0) === 0) this.#line(this.#row).splice(this.#col);
        else if (n === 2) this.#line(this.#row).splice(0);
        else throw new Error(`unsupported erase in line ${params}`);
        return;
      case "J": // erase in display: 0 from the cursor to the end of the screen
        if ((n ?? 0) !== 0) throw new Error(`unsupported erase in display ${params}`);
        this.#line(this.#row).splice(this.#col);
        this.#lines.splice(this.#row + 1);
        return;
      default:
        throw new Error(`unsupported escape sequence CSI ${params}${final}`);
    }
  }
}
