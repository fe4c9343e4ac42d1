/** Where the console publishes every signing key, retired ones included (see `buildPublicKeysDocument`). */
export const WELL_KNOWN_KEYS_PATH = "/.well-known/loopstacks-keys.json";

/**
 * The standard-tool checks of a bundle, run in its folder: the signature over `manifest.json`,
 * every file against the SHA-256 the signed manifest gives, and the key's id (to compare with
 * `signingKeyId`). `VERIFY.md` and the console's Compliance page both show them.
 */
export const STANDARD_TOOL_COMMANDS = [
  "base64 -d manifest.sig | openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin -in manifest.json -sigfile /dev/stdin",
  `jq -r '.files[] | "\\(.sha256)  \\(.name)"' manifest.json | sha256sum -c`,
  "openssl pkey -pubin -in public-key.pem -outform DER | sha256sum",
];

/** `VERIFY.md`: how to check this bundle with `node verify.mjs`, or with standard tools alone. */
export function verifyDocument(params: { folder: string; keyId: string; hashedRealms: readonly string[] }): string {
  const hashedNote =
    params.hashedRealms.length > 0
      ? `In this bundle the realm(s) ${params.hashedRealms.map((r) => `\`${r}\``).join(", ")} export hashed payloads.`
      : "In this bundle every realm exports raw payloads, except frames in realms the exporter has no export role in, which are always hashed.";
  return `# Verifying this compliance bundle

\`${params.folder}\` was exported by LoopStacks and signed with the Ed25519 key
\`${params.keyId}\`. Everything below can be checked offline; nothing needs LoopStacks.

## The files

| file | what it is |
| --- | --- |
| \`manifest.json\` | scope, exporter, time, software version; SHA-256, size and record count of every other file; the audit chain segment; the signing key id |
| \`manifest.sig\` | Ed25519 signature over the exact bytes of \`manifest.json\`, base64 |
| \`public-key.pem\` | the public key; its id is the SHA-256 of its DER (SubjectPublicKeyInfo) encoding |
| \`SHA256SUMS\` | \`sha256sum\` lines for every file except itself (the signature included); not signed |
| \`runs.jsonl\` | one line per run: who ran which loop, when, status, input and output, error |
| \`frames.jsonl\` | one line per frame, runs in order and frames in creation order: loop and revision, prompt version, model, identity, authorization decision, attempts, input, output, error, tool calls |
| \`prompts.jsonl\` | the exact prompt versions those frames ran, each with every promotion or rollback to or from it |
| \`audit.jsonl\` | a contiguous segment of the instance's hash-chained audit log |
| \`report.html\` | the same records for a person; open it in any browser (no scripts, no external assets) |
| \`verify.mjs\` | a verifier using only Node.js built-ins |

Every JSONL line is canonical JSON: object keys sorted at every level, no whitespace, strings
escaped as \`JSON.stringify\` does.

## With Node.js (18 or later)

    node verify.mjs

It checks the signature against \`public-key.pem\`, that the key's id is the manifest's
\`signingKeyId\`, every file's SHA-256, size and record count, \`SHA256SUMS\`, the order of the
records and the continuity of the audit hash chain. It exits 0 when everything holds and 1
otherwise, printing one line per problem, naming the file and line at fault.

A verifier shipped inside a bundle is only as trustworthy as the bundle: an altered
\`verify.mjs\` could say anything. Prefer the copy from your own LoopStacks installation
(\`loopstacks verify <bundle>\`), compare this one with it, or use the standard tools below.

## With standard tools only

    cd ${params.folder}
${STANDARD_TOOL_COMMANDS.map((command) => `    ${command}`).join("\n")}
    sha256sum -c SHA256SUMS

1. \`openssl pkeyutl\` (OpenSSL 3.0 or later, for \`-rawin\`) must print
   \`Signature Verified Successfully\`. \`manifest.sig\` is base64 text, hence the \`base64 -d\`.
   \`manifest.json\` is the only file the signature covers; every other file is checked against it.
2. The \`jq\` line checks every file \`manifest.json\` lists against the SHA-256 it gives; each
   must report \`OK\`. Without jq:
   \`node -e 'for (const f of JSON.parse(require("fs").readFileSync("manifest.json")).files) console.log(f.sha256 + "  " + f.name)' | sha256sum -c\`.
   Each file's \`records\` in the manifest is its line count (\`wc -l\`).
3. The \`openssl pkey\` line prints the key id; it must equal \`signingKeyId\` in \`manifest.json\`.
4. \`sha256sum -c SHA256SUMS\` must report \`OK\` for every file. \`SHA256SUMS\` is not signed:
   anyone who changes a file can rewrite it to match, so it only adds a check of \`manifest.json\`
   and \`manifest.sig\` themselves. Steps 1 and 2 are what prove the files intact.

## Who signed it

A valid signature proves the bundle is intact and was signed by the holder of that key, not
who the holder is. Compare the key id with the keys the LoopStacks instance publishes at
\`${WELL_KNOWN_KEYS_PATH}\` on its console (retired keys stay listed, so old bundles keep
verifying), or pass that document to the verifier:

    node verify.mjs --keys loopstacks-keys.json

A key retired before the bundle's \`exportedAt\` is reported as a problem.

## The audit hash chain

Each event's \`hash\` is the SHA-256 (hex) of the canonical JSON of
\`{ seq, at, action, outcome, actor, realmId, targetType, targetId, data, prevHash }\`, and its
\`prevHash\` is the \`hash\` of the event before it (64 zeros for the first event ever). The
bundle carries every event from the first to the last one in scope: events about the exported
runs (their target, or the run named in their data, as denials are) and, for a realm export,
every event of that realm in the time range. \`auditChain\` in the manifest names the first and
last \`seq\`, the \`prevHash\` of the first (where the segment hooks onto the chain before it) and
the \`hash\` of the last.

Events in that stretch that are outside the scope (other realms, other runs) are **withheld**:
the line keeps only \`seq\`, \`prevHash\` and \`hash\`, with \`"withheld": true\`. The links around
them still check, and their hashes are fixed by the events that follow, so the same events
disclosed later (for instance in a bundle of their own realm) can be matched against this one;
their contents cannot be recomputed from this bundle.

The export itself is recorded as an \`export.created\` event carrying the SHA-256 of this
\`manifest.json\`. It is appended after the manifest is signed, so it appears in later bundles,
never in its own.

## Hashed payloads

${hashedNote} A hashed value reads
\`{ "sha256": "<hex>" }\`: the SHA-256 of the canonical JSON of the original value. Error
messages of hashed frames are hashed the same way (their codes stay readable). To check a value
disclosed to you, save it as JSON and run

    node verify.mjs --hash value.json

and compare the output with the recorded hash. A short or guessable value (\`"yes"\`, a small
number) can be found by trying candidates; hashing hides values, it does not make them secret.

## Scope

A realm export holds the runs of that realm created from \`from\` up to, not including, \`to\`.
Every frame of those runs is included; a frame that ran in a realm the exporter has no export
role in keeps its loop, status, identity and authorization decision, and its payloads are
hashed. Secrets referenced by loop definitions are resolved at dispatch time and never stored,
so they cannot appear here.
`;
}
