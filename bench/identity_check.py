"""What the Netlify entry's Identity check costs: a warm token request from an anonymous caller against one
from a logged-in Identity user, whose token the entry has the site's Identity API confirm.

The entry (the Pyodide one Netlify runs) is called in one Node process, alternating rounds of each kind; the
Identity API is the stand-in the tests use (tests/deploy/identity_service.py, a Python HTTP server on
loopback), so the figure is the entry's own cost plus a loopback round trip. On Netlify the round trip goes
to the site's own Identity API instead, which cannot be measured offline.

Usage: python bench/identity_check.py [--calls N] [--rounds N]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions" / "ably-token-request")]

from tests.deploy.identity_service import identity_token, running_identity_service  # noqa: E402

ENTRY = ROOT / "functions" / "ably-token-request" / "ably-token-request.mjs"
# Calls the entry as Netlify's bootstrap does, `calls` times per round and kind; prints the per-call means.
DRIVER = """
import { pathToFileURL } from 'node:url';
const [entryPath, token, calls, rounds] = process.argv.slice(1);
const { default: entry } = await import(pathToFileURL(entryPath).href);
const url = 'https://example.netlify.app/.netlify/functions/ably-token-request';
async function call(identity) {
  const user = identity ? { user: { sub: 'mod-1' } } : null;
  Object.defineProperty(globalThis, 'netlifyIdentityContext', { value: user, configurable: true });
  const headers = identity ? { authorization: `Bearer ${token}` } : {};
  const answer = await entry(new Request(url, { headers }), { requestId: 'bench' });
  await answer.text();
  if (answer.status !== 200) throw new Error(`status ${answer.status}`);
}
const figures = { anonymous: [], identity: [] };
for (const identity of [false, true]) await call(identity);
for (let round = 0; round < Number(rounds); round++) {
  for (const identity of [false, true]) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (let i = 0; i < Number(calls); i++) await call(identity);
    const used = process.cpuUsage(cpu);
    figures[identity ? 'identity' : 'anonymous'].push({
      wall: (performance.now() - started) / Number(calls),
      cpu: (used.user + used.system) / 1000 / Number(calls),
    });
  }
}
process.stdout.write(`FIGURES ${JSON.stringify(figures)}\\n`);
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    users: dict[str, dict[str, object] | str] = {"mod-1": {"app_metadata": {"roles": ["moderator"]}}}
    with running_identity_service(users) as identity:
        env = {
            "PATH": os.environ["PATH"],
            "ABLY_API_KEY": "bench.key:not-a-real-secret",
            "ABLY_TOKEN_FORMAT": "jwt",
            "URL": identity.url,
        }
        command = ["node", "--input-type=module", "-e", DRIVER, str(ENTRY), identity_token("mod-1")]
        result = subprocess.run(
            [*command, str(args.calls), str(args.rounds)], env=env, capture_output=True, text=True, check=True
        )
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("FIGURES ")]
    figures = json.loads(line.removeprefix("FIGURES "))
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"Token function, Pyodide entry, JWT mode, Node {node}: {args.rounds} rounds of {args.calls} calls")
    median = {
        kind: {m: statistics.median(r[m] for r in rounds) for m in ("wall", "cpu")}
        for kind, rounds in figures.items()
    }
    for kind in ("anonymous", "identity"):
        label = "anonymous" if kind == "anonymous" else "Identity user, token confirmed"
        print(f"  {label:32} {median[kind]['wall']:6.2f} ms wall  {median[kind]['cpu']:6.2f} ms CPU per call")
    extra = median["identity"]["wall"] - median["anonymous"]["wall"]
    ratio = median["identity"]["wall"] / median["anonymous"]["wall"]
    print(f"  the check adds {extra:.2f} ms to an Identity user's call ({ratio:.1f}x), with its round trip")


if __name__ == "__main__":
    main()
