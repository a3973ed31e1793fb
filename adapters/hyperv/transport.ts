/**
 * One interface for both ways of reaching a Hyper-V host: local PowerShell (node-powershell) and
 * Windows OpenSSH (ssh2). Transports move text and bytes only; scripts and parsing live elsewhere.
 */
import type { ByteSource } from "../../src/domain/ports.js";

export interface PsOutput {
  readonly stdout: string;
  /** Anything the host wrote to stderr (progress CLIXML, warnings): reported, never fatal by itself. */
  readonly stderr: string;
}

export interface PsTransport {
  /** A short name for messages ("local", "ssh://hv01:22"). */
  readonly describe: string;
  /** Runs one line of PowerShell (the adapter always sends one line) and returns its output. */
  run(line: string, signal?: AbortSignal): Promise<PsOutput>;
  /**
   * The data path. `imagePath` maps a host path (`C:\ClusterStorage\...`) to the POSIX-style path
   * the disk readers use (a local path, or `/C:/...` for SFTP); `openImageFile` opens such a path
   * (also for the parents a differencing VHDX names relative to its own path).
   */
  imagePath(windowsPath: string): string;
  openImageFile(path: string, signal?: AbortSignal): Promise<ByteSource>;
  close(): Promise<void>;
}
