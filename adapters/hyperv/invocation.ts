/**
 * How a script reaches PowerShell without ever splicing data into code: the script body is a
 * constant, its arguments travel as base64 JSON decoded inside the script into `$A`, and the whole
 * script travels base64-encoded inside a one-line bootstrap (so `-Command -` sees one line). The
 * only characters outside constants are base64 [A-Za-z0-9+/=], inside single-quoted literals.
 * The answer is base64 of the UTF-8 JSON too, so the console code page (OEM on Windows PowerShell
 * 5.1 over SSH) cannot garble non-ASCII names.
 */

/** Prefix of the answer line, so stray output (profiles, warnings) cannot be mistaken for it. */
export const OUTPUT_MARK = "SNAPVISOR-JSON:";

/** The wrapper around every body: one JSON document `{ok, data}` or `{ok:false, error}` on stdout. */
export function wrapScript(body: string, argsBase64: string): string {
  return [
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    "try {",
    `  $A = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('${argsBase64}')) | ConvertFrom-Json`,
    "  $R = & {",
    body,
    "  }",
    "  $J = ConvertTo-Json -InputObject @{ ok = $true; data = $R } -Depth 12 -Compress",
    "} catch {",
    "  $E = @{ message = $_.Exception.Message; type = $_.Exception.GetType().FullName; id = [string]$_.FullyQualifiedErrorId; category = [string]$_.CategoryInfo.Category }",
    "  $J = ConvertTo-Json -InputObject @{ ok = $false; error = $E } -Depth 4 -Compress",
    "}",
    `[Console]::Out.WriteLine('${OUTPUT_MARK}' + [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($J)))`,
  ].join("\n");
}

function base64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

/** The one line sent to the host for `body` with `args`. */
export function buildInvocation(body: string, args: unknown): string {
  const script = wrapScript(body, base64(JSON.stringify(args ?? {})));
  return `& ([ScriptBlock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('${base64(script)}'))))`;
}
