import type { Permission } from "@/lib/services/actor";

export interface NavItem {
  href: string;
  label: string;
  /** Shown only to people who hold this permission in at least one realm. */
  requires?: Permission;
}

/** The console's main navigation, in display order. */
export const NAV_ITEMS: NavItem[] = [
  { href: "/loops", label: "Loops" },
  { href: "/runs", label: "Runs" },
  { href: "/cluster", label: "Cluster" },
  { href: "/exports", label: "Compliance", requires: "export" },
  { href: "/audit", label: "Audit log", requires: "export" },
  { href: "/admin/mappings", label: "Group mappings", requires: "admin" },
  { href: "/admin/tokens", label: "Service tokens", requires: "admin" },
];
