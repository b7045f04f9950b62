/**
 * Simulated answers to Auto Evol-Instruct's requests: the evol LLM's four-part answer to a method,
 * the optimizer's trajectory analysis and its improved method. All deterministic. The evol answers
 * drop the numbers of a task unless the method says to keep every number, and an instruction that
 * lost them is answered by asking for them back: a learning run has a failure to find and fix.
 */
import {
  ANALYSIS_LEAD,
  CASE_HEADING,
  E0_LABELS,
  EVOL_METHOD_SYSTEM,
  hasFinalPartHeading,
  OPTIMIZE_LEAD,
  parseSampleLine,
} from '../core/auto-evol';
import type { ChatMessage } from '../core/chat';
import { requestContent } from './request';
import { INSTRUCTION_PLACEHOLDER } from '../core/chat';
import { INSTRUCTION_CLOSE, INSTRUCTION_OPEN, RESPONDER_SYSTEM } from '../core/operations';
import { prngFor } from '../core/prng';
import { parseRewrite } from '../core/rewrite';
import { answerMutation, extractInstruction } from './mutate';
import { between, normaliseForComparison, pick, salientWords } from './text';
import type { SimRecogniser } from './types';

/** A method that says this keeps the numbers of a task; any other loses them. */
export const SIM_NUMBER_GUARD = /keep every number/i;

/** What the simulated evol LLM writes in place of the numbers it drops. */
export const SIM_LOST_FIGURES = 'the figures given earlier';

/** The line the simulated optimizer adds when the feedback says numbers were lost. */
export const SIM_GUARD_LINE = 'Keep every number, name and quoted value of the task exactly as it is written.';

const EXTRA_LINES = [
  'Prefer one precise, checkable condition to vague extra wording.',
  'Make sure the final task can be answered as it stands, without asking the user for anything.',
  'Do not let a single rewrite add more than about twenty words.',
];

/** The request's own content (a re-ask is answered like its first ask). */
const userContent = requestContent;

function systemContent(messages: readonly ChatMessage[]): string | undefined {
  return messages.find((m) => m.role === 'system')?.content;
}

// ---------------------------------------------------------------------------------------------
// The evol LLM

function loseFigures(instruction: string): string {
  const stripped = instruction
    .replace(/\d+(?:[.,]\d+)*%?/g, 'some')
    .replace(/\s+/g, ' ')
    .trim();
  return `${stripped} Work only with ${SIM_LOST_FIGURES}.`;
}

function harder(instruction: string): string {
  const rewrite = parseRewrite(answerMutation(`${INSTRUCTION_OPEN}\n${instruction}\n${INSTRUCTION_CLOSE}`));
  return rewrite.ok ? rewrite.text : `${instruction} Explain each step of your reasoning.`;
}

type LabelStyle = (label: string) => string;

/** The ways models mark the parts of an answer; the parser must read them all. */
const LABEL_STYLES: LabelStyle[] = [
  (label) => `${label}:`,
  (label) => `**${label}:**`,
  (label) => `### ${label}`,
  (label) => `#${label}#:`,
];

/** The evol LLM's four-part answer: ways to add complexity, a plan, a draft, the final rewrite. */
export function answerMethodEvolution(content: string): string {
  const instruction = extractInstruction(content);
  const random = prngFor('auto-evol', instruction);
  const topic = salientWords(instruction)[0] ?? 'the subject';
  const evolved =
    /\d/.test(instruction) && !SIM_NUMBER_GUARD.test(content) ? loseFigures(instruction) : harder(instruction);
  const style = pick(LABEL_STYLES, random);
  return [
    style(E0_LABELS.options),
    `- add a precise condition about ${topic}`,
    '- narrow it to a concrete, rarer case',
    '- ask for the reasoning in explicit steps',
    '- give it a small piece of structured input to work with',
    '',
    style(E0_LABELS.plan),
    'Combine a precise condition with explicit reasoning steps, adding no more than twenty words.',
    '',
    style(E0_LABELS.draft),
    evolved,
    '',
    style(E0_LABELS.final),
    evolved,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The optimizer

interface SimCase {
  id: string;
  stages: Array<{ label: string; text?: string; failure?: string }>;
}

function trajectoryCases(content: string): SimCase[] {
  const start = content.indexOf(CASE_HEADING);
  if (start < 0) return [];
  const end = content.indexOf('\nThe method that was used:', start);
  const region = content.slice(start, end < 0 ? undefined : end);
  return region
    .split(new RegExp(`^${CASE_HEADING}`, 'm'))
    .filter((block) => block.trim())
    .map((block) => {
      const [idLine, ...rest] = block.split('\n');
      const stages: SimCase['stages'] = [];
      for (const line of rest) {
        const marker = /^\[(original|evolution \d+)(?: failed: (.*))?\]$/.exec(line.trim());
        if (marker) stages.push({ label: marker[1], ...(marker[2] ? { failure: marker[2] } : { text: '' }) });
        else if (stages.length && stages[stages.length - 1].text !== undefined) {
          const stage = stages[stages.length - 1];
          stage.text = stage.text ? `${stage.text}\n${line}` : line;
        }
      }
      return { id: idLine.trim(), stages };
    });
}

function whatWentWrong(previous: string, current: string): string | undefined {
  if (/\d/.test(previous) && !/\d/.test(current)) {
    return 'the rewrite dropped the numbers the task depends on, so it can no longer be answered as it stands';
  }
  if (normaliseForComparison(previous) === normaliseForComparison(current))
    return 'the rewrite is no harder than before';
  if (/^(understood|sure|thank you)\b/i.test(current.trim()) && current.trim().endsWith('?')) {
    return 'the rewrite is a question back to the user, not a task';
  }
  return undefined;
}

/** Names each failed case with the evolution where it went wrong, then advises the method. */
export function answerTrajectoryAnalysis(content: string): string {
  const failures: string[] = [];
  for (const c of trajectoryCases(content)) {
    for (let i = 1; i < c.stages.length; i++) {
      const stage = c.stages[i];
      const previous = c.stages
        .slice(0, i)
        .reverse()
        .find((s) => s.text !== undefined)?.text;
      const reason = stage.failure
        ? `no usable rewrite (${stage.failure})`
        : whatWentWrong(previous ?? '', stage.text ?? '');
      if (reason) {
        failures.push(`- Case ${c.id}, ${stage.label}: ${reason}.`);
        break;
      }
    }
  }
  if (failures.length === 0) {
    return 'No case failed: every rewrite kept its task and made it a little harder.\nAdvice: keep the method, and ask for one more demanding condition per rewrite.';
  }
  const lostNumbers = failures.some((f) => f.includes('numbers'));
  return [
    'Failed cases:',
    ...failures,
    '',
    lostNumbers
      ? 'Advice: the method must tell the rewriter to keep every number and every piece of data of the task unchanged.'
      : 'Advice: the method should insist that each rewrite is a complete, answerable task that is harder than before.',
  ].join('\n');
}

/** Where new guidance goes: before the answer layout, else before the task itself. */
function anchorLine(lines: readonly string[]): number {
  const layout = lines.findIndex((l) => /^(give your answer|answer with|lay out|reply in)/i.test(l.trim()));
  if (layout >= 0) return layout;
  const task = lines.findIndex((l) => l.includes(INSTRUCTION_OPEN) || l.includes(INSTRUCTION_PLACEHOLDER));
  return task >= 0 ? task : lines.length;
}

/** The current method with a line or two of new guidance, in a fenced block. */
export function answerMethodOptimization(content: string): string {
  const method = between(content, '<method>', '</method>');
  if (!method || !method.includes(INSTRUCTION_PLACEHOLDER)) {
    return 'I could not find a method with a placeholder to improve.';
  }
  const feedback = between(content, '<feedback>', '</feedback>') ?? '';
  const { step, sample } = parseSampleLine(content) ?? { step: 1, sample: 1 };
  const needsGuard = /number|figure|digit/i.test(feedback) && !SIM_NUMBER_GUARD.test(method);
  const added: string[] = [];
  if (needsGuard && sample % 3 !== 0) added.push(SIM_GUARD_LINE);
  if (!needsGuard || sample % 2 === 0) {
    const fresh = EXTRA_LINES.filter((line) => !method.includes(line));
    if (fresh.length) added.push(fresh[(step + sample) % fresh.length]);
  }
  const lines = method.split('\n');
  const at = anchorLine(lines);
  lines.splice(at, 0, ...added, ...(added.length && lines[at]?.trim() ? [''] : []));
  return `Here is the improved method.\n\n\`\`\`\n${lines.join('\n')}\n\`\`\``;
}

// ---------------------------------------------------------------------------------------------
// Recognisers

export const ANALYZE_RECOGNISER: SimRecogniser = {
  kind: 'other',
  test: (messages) => userContent(messages).startsWith(ANALYSIS_LEAD),
  operation: () => 'analyze-trajectory',
  answer: (messages) => answerTrajectoryAnalysis(userContent(messages)),
};

export const OPTIMIZE_RECOGNISER: SimRecogniser = {
  kind: 'other',
  test: (messages) => userContent(messages).startsWith(OPTIMIZE_LEAD),
  operation: () => 'optimize-method',
  answer: (messages) => answerMethodOptimization(userContent(messages)),
};

/** A method applied to a task: our system message, or a final-part label in a prompt that is no answer request. */
export const EVOLVE_METHOD_RECOGNISER: SimRecogniser = {
  kind: 'mutate',
  test: (messages) => {
    const system = systemContent(messages);
    if (system === EVOL_METHOD_SYSTEM) return true;
    return system !== RESPONDER_SYSTEM && hasFinalPartHeading(userContent(messages));
  },
  operation: () => 'auto-evol-method',
  answer: (messages) => answerMethodEvolution(userContent(messages)),
};

/** A task that lost its numbers is answered by asking for them: a failed evolution F(r) detects. */
export const LOST_FIGURES_RECOGNISER: SimRecogniser = {
  kind: 'respond',
  test: (messages) => systemContent(messages) === RESPONDER_SYSTEM && userContent(messages).includes(SIM_LOST_FIGURES),
  answer: () => 'Understood. Could you please provide the figures you would like me to work with?',
};

/** In the order they are tried: the optimizer's prompts hold a method, so they come first. */
export const AUTO_EVOL_RECOGNISERS: readonly SimRecogniser[] = [
  ANALYZE_RECOGNISER,
  OPTIMIZE_RECOGNISER,
  EVOLVE_METHOD_RECOGNISER,
  LOST_FIGURES_RECOGNISER,
];
