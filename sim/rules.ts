/** Scripted rules: validation and matching. */
import { z } from 'zod';
import { SIM_FAULTS, SIM_REQUEST_KINDS, SimFault, SimRequestKind, SimRule } from './types';

const SimRuleSchema = z
  .object({
    match: z
      .object({
        contains: z.string().optional(),
        regex: z.string().optional(),
        model: z.string().optional(),
        kind: z.enum(SIM_REQUEST_KINDS as [SimRequestKind, ...SimRequestKind[]]).optional(),
      })
      .strict()
      .optional(),
    times: z.number().int().positive().optional(),
    content: z.string().optional(),
    status: z.number().int().min(400).max(599).optional(),
    body: z.unknown().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    fault: z.enum(SIM_FAULTS as [SimFault, ...SimFault[]]).optional(),
    latencyMs: z.number().nonnegative().optional(),
  })
  .strict()
  .refine((rule) => [rule.content, rule.status, rule.fault].filter((v) => v !== undefined).length <= 1, {
    message: 'a rule takes at most one of content, status and fault',
  })
  .refine((rule) => (rule.body === undefined && rule.headers === undefined) || rule.status !== undefined, {
    message: 'body and headers belong to a rule with a status',
  });

/** A validated rule with its regex compiled and its uses counted. */
export interface ActiveRule {
  rule: SimRule;
  regex?: RegExp;
  used: number;
}

/** Checks a rule (from code or from the admin endpoint); throws with a readable message if it is invalid. */
export function activateRule(input: unknown): ActiveRule {
  const parsed = SimRuleSchema.safeParse(input);
  if (!parsed.success) {
    throw new Error(`invalid simulated-LLM rule: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  const rule = parsed.data as SimRule;
  let regex: RegExp | undefined;
  if (rule.match?.regex !== undefined) {
    try {
      regex = new RegExp(rule.match.regex);
    } catch (err) {
      throw new Error(`invalid simulated-LLM rule: bad regex: ${(err as Error).message}`);
    }
  }
  return { rule, regex, used: 0 };
}

export interface RuleSubject {
  text: string;
  model: string;
  kind: SimRequestKind;
}

function matches(active: ActiveRule, subject: RuleSubject): boolean {
  const match = active.rule.match;
  if (!match) return true;
  if (match.model !== undefined && match.model !== subject.model) return false;
  if (match.kind !== undefined && match.kind !== subject.kind) return false;
  if (match.contains !== undefined && !subject.text.includes(match.contains)) return false;
  if (active.regex && !active.regex.test(subject.text)) return false;
  return true;
}

/** The first rule that matches and is not used up; counts the use. */
export function takeRule(rules: readonly ActiveRule[], subject: RuleSubject): SimRule | undefined {
  const found = rules.find(
    (active) => (active.rule.times === undefined || active.used < active.rule.times) && matches(active, subject),
  );
  if (!found) return undefined;
  found.used++;
  return found.rule;
}
