import Link from "next/link";
import { EmptyState } from "@/components/ui/empty-state";
import { linkClass } from "@/components/ui/styles";

export default function ConsoleNotFound() {
  return (
    <EmptyState title="Not found" action={<Link href="/loops" className={linkClass}>Back to loops</Link>}>
      It does not exist, or it belongs to a realm you have no role in.
    </EmptyState>
  );
}
