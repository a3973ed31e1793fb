/** Names that break naive quoting: subexpressions, quotes of every kind, backticks, separators, newlines. */
export const HOSTILE_NAMES: readonly string[] = [
  "$(Remove-Item C:\\ -Recurse)",
  "a'b\"c",
  "‘smart’ “quotes” ‚low‛",
  "tick`n`$x",
  "x; Stop-Computer -Force",
  "line1\nline2\r\nline3",
  "@{a=1}|%{$_}",
  "<INSTANCE>&amp;</VALUE>",
  "ünïcödé 名前 😀",
];
