/** Splits the output of `curl … -w '\n%{http_code}'` into status, text and body (JSON when it parses). */
export function curlResponse(stdout: string): { status: number; text: string; body: unknown } {
  const cut = stdout.lastIndexOf('\n');
  const text = stdout.slice(0, cut);
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (a rendered file, an error page)
  }
  return { status: Number(stdout.slice(cut + 1)), text, body };
}
