// Lists of IP addresses and CIDR ranges read from settings: the proxies the console trusts
// (lib/server/forwarded.mjs) and the addresses loops may not reach over HTTP (lib/runtime/http-client.ts).
// Plain JavaScript, so that the console's server runs it as it is; its types are in
// address-list.d.mts.
import { BlockList, isIP } from "node:net";

/** An IPv4 address written as IPv6 (`::ffff:192.0.2.1`) as the IPv4 address it is; IPv6 brackets removed. */
export function plainAddress(address) {
  const trimmed = address.trim().replace(/^\[(.*)\]$/, "$1");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed);
  return mapped ? mapped[1] : trimmed;
}

/** Distinct addresses whose answer a list keeps; past that, it starts again. */
const MAX_KEPT_ANSWERS = 1024;

/**
 * Addresses and CIDR ranges separated by commas (`127.0.0.1, 10.0.0.0/8, fd00::/8`). Throws on
 * an entry that is neither, naming the entry (the caller names the setting).
 */
export function parseAddressList(value) {
  const list = new BlockList();
  const entries = [];
  for (const raw of (value ?? "").split(",")) {
    const entry = raw.trim();
    if (!entry) continue;
    const [address, prefix, extra] = entry.split("/");
    const family = isIP(address ?? "");
    const bits = family === 4 ? 32 : 128;
    if (family === 0 || extra !== undefined || (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= bits))) {
      throw new Error(`"${entry}" is not an IP address or a CIDR range (such as 10.0.0.0/8)`);
    }
    const type = family === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
    entries.push(entry);
  }
  // Answers are kept: the list never changes, and HTTP loops ask about the same few addresses on every call.
  const answers = new Map();
  return {
    entries,
    size: entries.length,
    has(address) {
      let answer = answers.get(address);
      if (answer === undefined) {
        const plain = plainAddress(address);
        const family = isIP(plain);
        answer = entries.length > 0 && family !== 0 && list.check(plain, family === 4 ? "ipv4" : "ipv6");
        if (answers.size >= MAX_KEPT_ANSWERS) answers.clear();
        answers.set(address, answer);
      }
      return answer;
    },
  };
}
