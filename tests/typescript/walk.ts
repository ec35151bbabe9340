// A small program over the TypeScript types generated from openapi/openapi.json
// (`.ci/typescript` generates them as ./tenantry.ts and type-checks this file with
// `tsc --noEmit --strict`). It is what a TypeScript caller of Tenantry writes: typed
// bodies, typed answers, and a problem for every error.
import type { components, paths } from "./tenantry";

type Schemas = components["schemas"];
type Problem = Schemas["Problem"];

/** An answer: the typed body, or the API's RFC 9457 problem. */
type Answer<T> = { ok: true; status: number; body: T } | { ok: false; problem: Problem };

async function call<T>(base: string, key: string, method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const response = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });
  if (!response.ok) {
    return { ok: false, problem: (await response.json()) as Problem };
  }
  return { ok: true, status: response.status, body: (await response.json()) as T };
}

type CreateOrganization = paths["/organization"]["post"];
type CreatedOrganization = CreateOrganization["responses"][201]["content"]["application/json"];
type RecordUsage = paths["/organization/{organization_id}/usage"]["post"];
type Recorded = RecordUsage["responses"][200]["content"]["application/json"];
type Events = paths["/organization/{organization_id}/events"]["get"]["responses"][200]["content"]["application/json"];

export async function walk(base: string, key: string): Promise<string[]> {
  const said: string[] = [];
  const request: CreateOrganization["requestBody"]["content"]["application/json"] = {
    organizationName: "Acme",
    domain: "acme.example",
  };
  const created = await call<CreatedOrganization>(base, key, "POST", "/organization", request);
  if (!created.ok) {
    return [`${created.problem.type}: ${created.problem.detail}`, ...created.problem.errors?.map((e) => e.field) ?? []];
  }
  const org: CreatedOrganization = created.body;
  const plan: Schemas["PlanValue"] = org.plan;
  said.push(`${org.name} (${org.id}) is on ${plan}, ${org.creditCount} credits`);

  const usage: RecordUsage["requestBody"]["content"]["application/json"] = { credits: 25, category: "search" };
  const recorded = await call<Recorded>(base, key, "POST", `/organization/${org.id}/usage`, usage);
  if (recorded.ok) {
    said.push(`entry ${recorded.body.entryId}: ${recorded.body.currentMonthUsage} used`);
  } else if (recorded.problem.type === "/problems/credits-exhausted") {
    said.push("out of credits");
  }

  const events = await call<Events>(base, key, "GET", `/organization/${org.id}/events`);
  if (events.ok) {
    for (const event of events.body) {
      const type: Schemas["EventTypeValue"] = event.type;
      // A change's values are JSON values, not `unknown`: they can be narrowed.
      for (const change of event.changes) {
        const to: Schemas["JsonValue"] = change.to;
        said.push(`${type}: ${change.field} → ${typeof to === "string" ? to : JSON.stringify(to)}`);
      }
    }
  }
  return said;
}

// What the types refuse. Each line below must fail to type-check: if the document loosened
// the schema it comes from, `tsc` would report the directive as unused and fail.
export function refused(org: CreatedOrganization, summary: Schemas["UsageSummaryView"]): void {
  // @ts-expect-error a plan the API does not have
  const plan: Schemas["PlanValue"] = "gold";
  // @ts-expect-error credits are a number
  const usage: Schemas["RecordUsageRequest"] = { credits: "25" };
  // @ts-expect-error a category the API does not have
  const category: Schemas["UsageCategory"] = "storage";
  // @ts-expect-error the organization has no such field
  const missing: string = org.internalId;
  // @ts-expect-error a role the API does not have
  const role: Schemas["RoleValue"] = "superuser";
  // @ts-expect-error a module spelled as the management API would not
  const module: Schemas["ModuleValue"] = "assets";
  // @ts-expect-error metadata values are JSON, never functions
  const metadata: Schemas["MetadataValue"] = () => 1;
  void [plan, usage, category, missing, role, module, metadata, summary.used satisfies number];
}
