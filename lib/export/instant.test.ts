import { describe, expect, it } from "vitest";
import { exportBundleSchema } from "./export-bundle";
import { INSTANT_MESSAGE, parseInstant } from "./instant";

const iso = (text: string) => {
  const result = parseInstant(text);
  return result.ok ? result.date.toISOString() : result.message;
};

describe("export range instants", () => {
  it("reads ISO 8601 dates and times with their zone, as the CLI, the API and the console send them", () => {
    expect(iso("2026-12-01T00:00:00Z")).toBe("2026-12-01T00:00:00.000Z");
    expect(iso("2026-12-01T00:00:00.123456Z")).toBe("2026-12-01T00:00:00.123Z");
    // The console's datetime-local value, with the Z it adds.
    expect(iso("2026-12-01T09:30Z")).toBe("2026-12-01T09:30:00.000Z");
    expect(iso("2026-12-01T01:00:00+01:00")).toBe("2026-12-01T00:00:00.000Z");
    expect(iso("2026-11-30T19:00:00-05:00")).toBe("2026-12-01T00:00:00.000Z");
    expect(iso("2024-02-29T00:00:00Z")).toBe("2024-02-29T00:00:00.000Z");
    expect(iso(new Date("2026-03-04T05:06:07.089Z").toISOString())).toBe("2026-03-04T05:06:07.089Z");
    expect(iso("1970-01-01T00:00:00Z")).toBe("1970-01-01T00:00:00.000Z");
    expect(iso("9999-12-31T23:59:59Z")).toBe("9999-12-31T23:59:59.000Z");
  });

  it("refuses what new Date() would guess at: a bare year, prose, a number, a time with no zone", () => {
    for (const text of ["2026", "Dec 31 2026", "99999", "1700000000000", "2026-12-01", "2026-12-01T00:00:00", "2026-12-01 00:00:00Z", "yesterday", "", " 2026-12-01T00:00:00Z"]) {
      expect(iso(text), text).toBe(INSTANT_MESSAGE);
    }
  });

  it("refuses days the calendar does not have instead of rolling them over", () => {
    expect(iso("2026-02-30T00:00:00Z")).toBe("2026-02-30 is not a day in the calendar");
    expect(iso("2026-02-29T00:00:00Z")).toBe("2026-02-29 is not a day in the calendar");
    expect(iso("2100-02-29T00:00:00Z")).toBe("2100-02-29 is not a day in the calendar");
    expect(iso("2026-04-31T00:00:00Z")).toBe("2026-04-31 is not a day in the calendar");
    expect(iso("2026-13-01T00:00:00Z")).toBe("2026-13-01 is not a day in the calendar");
    expect(iso("2026-00-10T00:00:00Z")).toBe("2026-00-10 is not a day in the calendar");
    expect(iso("2026-12-01T24:00:00Z")).toMatch(/hours 00–23/);
    expect(iso("2026-12-01T23:60:00Z")).toMatch(/hours 00–23/);
    expect(iso("2026-12-31T23:59:60Z")).toMatch(/hours 00–23/);
  });

  it("keeps to years 1970 to 9999, whatever the zone", () => {
    const range = "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z";
    expect(iso("+010000-01-01T00:00:00Z")).toBe(INSTANT_MESSAGE);
    expect(iso("9999-12-31T23:00:00-05:00")).toBe(range);
    expect(iso("1969-12-31T23:59:59Z")).toBe(range);
    expect(iso("0070-01-01T00:00:00Z")).toBe(range);
    expect(iso("1970-01-01T00:30:00+01:00")).toBe(range);
  });

  it("names the field at fault in an export request", () => {
    const parsed = exportBundleSchema.safeParse({ kind: "realm", realmId: "demo", from: "2026-02-30T00:00:00Z", to: "+010000-01-01T00:00:00Z" });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([
      ["from", "2026-02-30 is not a day in the calendar"],
      ["to", INSTANT_MESSAGE],
    ]);
    const far = exportBundleSchema.safeParse({ kind: "realm", realmId: "demo", from: new Date(0), to: new Date(Date.UTC(10000, 0, 1)) });
    expect(far.error?.issues.map((i) => i.path.join("."))).toEqual(["to"]);
    const good = exportBundleSchema.safeParse({ kind: "realm", realmId: "demo", from: "2026-11-01T00:00:00Z", to: new Date("2026-12-01T00:00:00Z") });
    expect(good.data).toEqual({ kind: "realm", realmId: "demo", from: new Date("2026-11-01T00:00:00Z"), to: new Date("2026-12-01T00:00:00Z") });
  });
});
