export interface AddressList {
  /** The addresses and ranges as given. */
  readonly entries: readonly string[];
  readonly size: number;
  /** Whether an address (IPv4, IPv6, IPv4 written as IPv6) is in the list; false for anything that is not an address. */
  has(address: string): boolean;
}

/** An IPv4 address written as IPv6 as the IPv4 address it is; IPv6 brackets removed. */
export function plainAddress(address: string): string;
/** Addresses and CIDR ranges, comma-separated; throws naming the entry that is neither. */
export function parseAddressList(value: string | undefined): AddressList;
