/**
 * Auto Evol-Instruct (arXiv 2406.00770): an evol LLM evolves instructions with an evolving method
 * (a prompt), an optimizer LLM reads how that went and writes better methods. This module holds the
 * pure parts: the initial method e0, reading the evol LLM's four-part answer, the failure detector
 * F(r), the optimizer's two prompts and the parsing of its method, and the run's configuration.
 * Every prompt sentence here is our own wording.
 */
import { z } from 'zod';
import { extraRoleOverride, resolveLlmConfig, type ConfigFile, type LlmMode } from './config';
import {
  checkPunctuationStopwords,
  checkSorryShort,
  checkTemplateWords,
  TEMPLATE_MARKERS,
  type EliminationRule,
} from './elimination';
import { fillTemplate, INSTRUCTION_PLACEHOLDER, type ChatMessage } from './chat';
import { INSTRUCTION_CLOSE, INSTRUCTION_OPEN } from './operations';
import { parseRewrite, type RewriteParse } from './rewrite';
import { endpointsFor, LlmEndpointSchema, type LlmEndpoint } from './endpoints';
import type { Usage } from './usage';

// ---------------------------------------------------------------------------------------------
// e0: the initial universal evolving method

/** The labels of the four parts of the evol LLM's answer; only the last part is kept. */
export const E0_LABELS = {
  options: 'Complexity options',
  plan: 'Plan',
  draft: 'Draft rewrite',
  final: 'Final rewrite',
} as const;

/** System message of every request that applies a method; the simulated LLM recognises it. */
export const EVOL_METHOD_SYSTEM =
  'You rewrite tasks that are used to train AI assistants, and you follow the method you are given to the letter.';

export const INITIAL_METHOD = [
  'Turn the task below into a harder one for an AI assistant, working carefully in four steps.',
  '',
  'Step 1. Think of several ways in which this particular task could be made more complex: an extra condition, a narrower or rarer case, more steps of reasoning, a piece of structured input to work with, and so on. None of them may change the language the task is written in.',
  'Step 2. Choose several of those ways and plan how to combine them in a single rewrite.',
  'Step 3. Rewrite the task by following the plan. Add only 10 to 20 words, and keep everything the task already asks for together with any table, code or data it contains.',
  'Step 4. Review the rewrite: look for anything unreasonable, unclear or impossible to answer, and correct it. Make sure the result is the same task made more complex, not a different task. Then write out the final version of the task on its own, with no comment.',
  '',
  'Give your answer in four parts, each under its label:',
  `${E0_LABELS.options}:`,
  '<the ways you found in step 1, as a list>',
  `${E0_LABELS.plan}:`,
  '<your plan from step 2>',
  `${E0_LABELS.draft}:`,
  '<your rewrite from step 3>',
  `${E0_LABELS.final}:`,
  '<only the final rewritten task from step 4>',
  '',
  INSTRUCTION_OPEN,
  INSTRUCTION_PLACEHOLDER,
  INSTRUCTION_CLOSE,
].join('\n');

/** The messages that ask the evol LLM to apply a method to one instruction. */
export function buildEvolveMessages(method: string, instruction: string): ChatMessage[] {
  return [
    { role: 'system', content: EVOL_METHOD_SYSTEM },
    { role: 'user', content: fillTemplate(method, instruction) },
  ];
}

// ---------------------------------------------------------------------------------------------
// Reading the evol LLM's answer

/** Markdown and numbering a model may put before a label: `### `, `**`, `Step 4:`, `4.`, `(4)`, `#`. */
const HEADING_PREFIX =
  /^[ \t>]*(?:#{1,6}[ \t]*)?(?:[*_]{1,3}[ \t]*)?#?[ \t]*(?:(?:step|part)[ \t]*\d+[ \t]*[:.)\-–—]*[ \t]*|[([]?\d+[\].):][ \t]*)?(?:[*_]{1,3}[ \t]*)?#?[ \t]*/i;

const FINAL_NOUNS =
  '(?:rewritten|revised|reviewed|evolved|improved|new|harder|rewrite|instruction|prompt|task|version|question|answer)';

/** `Final rewrite`, `Final Rewritten Instruction`, `Finally rewritten task`, a bare `Final`; not `Finally,`. */
const FINAL_LABEL = new RegExp(
  `^(?:the[ \\t]+)?(?:final(?![a-z])|finally(?=[ \\t-]+${FINAL_NOUNS}))(?:[ \\t-]+${FINAL_NOUNS})*`,
  'i',
);

const DRAFT_LABEL =
  /^(?:(?:draft|first|initial)[ \t-]+)?(?:rewritten[ \t]+(?:instruction|prompt|task|version|question)|rewrite|rewritten)/i;

/** What follows a label: closing markup, a colon or dash, more closing markup. */
const LABEL_END = /^[ \t]*#?[ \t]*((?:[*_]{1,3})?)[ \t]*([:：]|[-–—](?=[ \t]|$))?[ \t]*((?:[*_]{1,3})?)[ \t]*/;

/**
 * The text after a label on a heading line, or undefined when the line is no heading of this
 * label. A heading has a colon or markup around its label, or stands alone on its line.
 */
function headingContent(line: string, label: RegExp, bareWord: string): string | undefined {
  const prefix = HEADING_PREFIX.exec(line)?.[0] ?? '';
  const rest = line.slice(prefix.length);
  const found = label.exec(rest);
  if (!found || found[0].length === 0) return undefined;
  const afterLabel = rest.slice(found[0].length);
  if (/^[\p{L}\p{N}]/u.test(afterLabel)) return undefined;
  const end = LABEL_END.exec(afterLabel)!;
  const content = afterLabel.slice(end[0].length);
  const colon = Boolean(end[2]);
  const markup = /[#*_]/.test(prefix) || Boolean(end[1] || end[3]) || afterLabel.trimStart().startsWith('#');
  const hasNoun = found[0].trim().toLowerCase() !== bareWord;
  if (colon || (markup && (content === '' || Boolean(end[1] || end[3]))) || (content === '' && hasNoun)) {
    return content;
  }
  return undefined;
}

/** The index and same-line content of the last heading matching the label, if any. */
function lastHeading(lines: readonly string[], label: RegExp, bareWord: string): { index: number; content: string } {
  for (let i = lines.length - 1; i >= 0; i--) {
    const content = headingContent(lines[i], label, bareWord);
    if (content !== undefined) return { index: i, content };
  }
  return { index: -1, content: '' };
}

/** Whether a text holds a final-part heading (the simulated LLM uses it to spot method prompts). */
export function hasFinalPartHeading(text: string): boolean {
  return lastHeading(text.split('\n'), FINAL_LABEL, 'final').index >= 0;
}

/**
 * The evolved instruction from the evol LLM's four-part answer: the part under the last
 * "final rewrite" heading (markdown variants included), else the last draft-rewrite part, else
 * the whole answer as a plain rewrite.
 */
export function parseEvolAnswer(answer: string): RewriteParse {
  const lines = answer.replace(/\r\n/g, '\n').split('\n');
  let heading = lastHeading(lines, FINAL_LABEL, 'final');
  let which = 'final rewrite';
  if (heading.index < 0) {
    heading = lastHeading(lines, DRAFT_LABEL, '');
    which = 'rewrite';
  }
  if (heading.index < 0) return parseRewrite(answer);
  const body = [heading.content, ...lines.slice(heading.index + 1)]
    .join('\n')
    .replace(/(?:\n[ \t]*(?:-{3,}|\*{3,}|_{3,}|={3,})[ \t]*)+$/, '')
    .trim();
  if (!body) return { ok: false, reason: `the ${which} part is empty` };
  return parseRewrite(body);
}

// ---------------------------------------------------------------------------------------------
// F(r): failure detection on a response

export const FAILURE_KINDS = [
  'stagnant-complexity',
  'insufficient-qualification',
  'loss-of-key-information',
  'infeasible',
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

/** One pattern of a failed evolution; every condition given must hold (case-insensitive). */
export const FailurePatternSchema = z
  .object({
    kind: z.enum(FAILURE_KINDS),
    /** The response starts with these words (after quotes and markdown). */
    opensWith: z.string().min(1).optional(),
    /** The response ends with a question mark. */
    endsWithQuestion: z.boolean().optional(),
    /** The response contains this text anywhere. */
    contains: z.string().min(1).optional(),
  })
  .strict()
  .refine((p) => p.opensWith !== undefined || p.contains !== undefined, {
    message: 'a failure pattern needs opensWith or contains',
  });
export type FailurePattern = z.infer<typeof FailurePatternSchema>;

function asksBack(kind: FailureKind, openers: readonly string[]): FailurePattern[] {
  return openers.map((opensWith) => ({ kind, opensWith, endsWithQuestion: true }));
}

/**
 * The paper's three signs (App. A) and exactly the further ones its authors' code checks, so that failure rates
 * can be set beside the paper's: a reply that opens with one of these and ends by asking back, or that asks for
 * missing input, or calls the task not possible. Data, so a run can bring its own.
 */
export const DEFAULT_FAILURE_PATTERNS: readonly FailurePattern[] = [
  ...asksBack('stagnant-complexity', ['understood', 'thank you', 'i understand', 'that is correct', 'great']),
  ...asksBack('insufficient-qualification', [
    'sure',
    'what',
    "i'm sorry",
    'is there anything else',
    'as an ai assistant',
  ]),
  { kind: 'loss-of-key-information', contains: 'please provide' },
  { kind: 'infeasible', contains: 'not possible' },
];

export type AutoFailureRule = FailureKind | EliminationRule | 'unusable-evolution' | 'unusable-response';

export type AutoVerdict = { passed: true } | { passed: false; rule: AutoFailureRule; evidence: string };

const EDGE_MARKUP = /^[\s"'“‘`*_>#-]+|[\s"'”’`*_)\]]+$/g;

function opensWith(text: string, opener: string): boolean {
  const start = text
    .replace(EDGE_MARKUP, '')
    .replace(/[\u2018\u2019]/g, "'")
    .toLowerCase();
  const word = opener.toLowerCase();
  return start.startsWith(word) && !/[\p{L}\p{N}]/u.test(start.charAt(word.length));
}

/** F(r): the first failure pattern the response matches, if any. */
export function detectFailure(
  response: string,
  patterns: readonly FailurePattern[] = DEFAULT_FAILURE_PATTERNS,
): AutoVerdict {
  const trimmed = response.replace(EDGE_MARKUP, '');
  const lower = response.toLowerCase();
  for (const p of patterns) {
    if (p.opensWith !== undefined && !opensWith(response, p.opensWith)) continue;
    if (p.endsWithQuestion && !trimmed.endsWith('?')) continue;
    if (p.contains !== undefined && !lower.includes(p.contains.toLowerCase())) continue;
    const signs = [
      p.opensWith !== undefined ? `opens with "${p.opensWith}"` : undefined,
      p.endsWithQuestion ? 'ends with "?"' : undefined,
      p.contains !== undefined ? `contains "${p.contains}"` : undefined,
    ].filter(Boolean);
    return { passed: false, rule: p.kind, evidence: `the response ${signs.join(' and ')}` };
  }
  return { passed: true };
}

/** Our own labels are template words too: an evolved instruction must not carry them. */
const AUTO_TEMPLATE_MARKERS = [
  ...TEMPLATE_MARKERS,
  ...Object.values(E0_LABELS)
    .filter((label) => label !== E0_LABELS.plan)
    .map((label) => `${label.toLowerCase()}:`),
];

/** Whether an evolution failed: F(r), then elimination rules 4, 2 and 3 (rule 1 needs a judge). */
/**
 * How a dev-set evolution is judged failed: `paper`, by F(r) alone, so rates can be set beside the paper's;
 * `paper-and-rules` (the default), by F(r) and Evol-Instruct's rules 4, 2 and 3 as well, which also catch a
 * method that leaks its own labels into the task or draws short refusals.
 */
export const DETECTORS = ['paper', 'paper-and-rules'] as const;
export type Detector = (typeof DETECTORS)[number];

export function judgeEvolution(
  instruction: string,
  response: string,
  patterns: readonly FailurePattern[] = DEFAULT_FAILURE_PATTERNS,
  detector: Detector = 'paper-and-rules',
): AutoVerdict {
  const rules =
    detector === 'paper'
      ? []
      : [
          checkTemplateWords(instruction, AUTO_TEMPLATE_MARKERS),
          checkSorryShort(response),
          checkPunctuationStopwords(response),
        ];
  for (const verdict of [detectFailure(response, patterns), ...rules]) {
    if (!verdict.passed) return verdict;
  }
  return { passed: true };
}

// ---------------------------------------------------------------------------------------------
// The optimizer: trajectory analysis and method optimization

/** One instruction of the mini-batch and what l successive evolutions made of it. */
export interface TrajectoryCase {
  id: string;
  original: string;
  evolutions: Array<{ instruction: string } | { failure: string }>;
}

/** Which of the m samples of a step a request is, so that samples differ and can be told apart. */
export interface OptimizerSample {
  step: number;
  sample: number;
  of: number;
}

export const OPTIMIZER_SYSTEM =
  'You design and repair the prompts that language models follow when they rewrite tasks. You judge only from the evidence in front of you and you are precise.';

/** Opens the analysis prompt; the simulated LLM recognises it by this. */
export const ANALYSIS_LEAD = 'Below you see how an evolving method changed a few tasks, one rewrite after another.';

/** Opens the optimization prompt; the simulated LLM recognises it by this. */
export const OPTIMIZE_LEAD = 'Below is an evolving method: a prompt that tells a model how to make a task harder.';

export const CASE_HEADING = '### Case ';

export function sampleLine({ step, sample, of }: OptimizerSample): string {
  return `(Optimization step ${step}, independent attempt ${sample} of ${of}.)`;
}

export function parseSampleLine(text: string): OptimizerSample | undefined {
  const m = /\(Optimization step (\d+), independent attempt (\d+) of (\d+)\.\)/.exec(text);
  return m ? { step: Number(m[1]), sample: Number(m[2]), of: Number(m[3]) } : undefined;
}

export function formatTrajectory(cases: readonly TrajectoryCase[]): string {
  return cases
    .map((c) =>
      [
        `${CASE_HEADING}${c.id}`,
        '[original]',
        c.original,
        ...c.evolutions.flatMap((e, i) =>
          'failure' in e ? [`[evolution ${i + 1} failed: ${e.failure}]`] : [`[evolution ${i + 1}]`, e.instruction],
        ),
      ].join('\n'),
    )
    .join('\n\n');
}

export function buildAnalysisMessages(
  method: string,
  cases: readonly TrajectoryCase[],
  sample: OptimizerSample,
): ChatMessage[] {
  const rounds = Math.max(0, ...cases.map((c) => c.evolutions.length));
  return [
    { role: 'system', content: OPTIMIZER_SYSTEM },
    {
      role: 'user',
      content: [
        `${ANALYSIS_LEAD} Each case starts from an original task that was rewritten ${rounds} time(s) in a row with the method shown at the end; every rewrite was meant to be a slightly harder version of the one before, in the same language, keeping everything needed to answer it.`,
        '',
        'Go through every case and find those where the evolution went wrong, for instance:',
        '- a rewrite that is no harder than the one before it, or merely reworded;',
        '- a rewrite that lost something the task needs (numbers, names, data, code), so that it can no longer be answered as it stands;',
        '- a rewrite that is not a task at all: a reply, a question back to the user, a refusal, or a remark about the rewriting;',
        '- a rewrite that became unreasonable, contradictory or impossible to answer.',
        '',
        'Write one line per failed case with its id, the rewrite where it went wrong and the reason. If no case failed, say so. Finish with one or two sentences on what the method should do differently.',
        sampleLine(sample),
        '',
        formatTrajectory(cases),
        '',
        'The method that was used:',
        '<method>',
        method,
        '</method>',
      ].join('\n'),
    },
  ];
}

/** The batch ids the feedback names: a rough view of which cases the optimizer found failed. */
export function casesNamed(feedback: string, ids: readonly string[]): string[] {
  return ids.filter((id) =>
    new RegExp(`(^|[^\\w-])${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`).test(feedback),
  );
}

export function buildOptimizationMessages(method: string, feedback: string, sample: OptimizerSample): ChatMessage[] {
  return [
    { role: 'system', content: OPTIMIZER_SYSTEM },
    {
      role: 'user',
      content: [
        `${OPTIMIZE_LEAD} In the method, ${INSTRUCTION_PLACEHOLDER} marks where the task is inserted, and the model's answer ends with a part that holds only the final rewritten task.`,
        '',
        'A review of the method on a few tasks gave this feedback:',
        '<feedback>',
        feedback,
        '</feedback>',
        '',
        'Write an improved version of the method that:',
        '- fixes the failures the feedback describes;',
        '- does not harm the cases that went well;',
        '- makes tasks at least as much harder as the current method does (do not weaken it to avoid failures);',
        `- keeps the placeholder ${INSTRUCTION_PLACEHOLDER} where the task goes;`,
        '- keeps an answer layout whose last part holds only the final rewritten task.',
        sampleLine(sample),
        '',
        'The current method:',
        '<method>',
        method,
        '</method>',
        '',
        'Reply with the complete improved method inside a single fenced code block (```), and nothing after it.',
      ].join('\n'),
    },
  ];
}

export type CandidateProblem = 'no-fenced-block' | 'unclosed-fence' | 'empty' | 'no-placeholder' | 'too-long';

/** The optimizer's method, or why it cannot be used (a failed candidate, never a crash). */
export type CandidateParse = { ok: true; method: string } | { ok: false; problem: CandidateProblem; reason: string };

export const DEFAULT_MAX_METHOD_CHARS = 6000;

const FENCE_OPEN = /^[ \t]{0,3}(`{3,}|~{3,})[ \t]*[^`\s]*[ \t]*$/;

/**
 * The method in the optimizer's answer: the text between the first fence and the last matching
 * closing fence (a method may hold fenced examples of its own). It must be non-empty, keep the
 * placeholder and stay under the length limit.
 */
export function parseOptimizedMethod(answer: string, maxChars = DEFAULT_MAX_METHOD_CHARS): CandidateParse {
  const lines = answer.replace(/\r\n/g, '\n').split('\n');
  const start = lines.findIndex((line) => FENCE_OPEN.test(line));
  if (start < 0) {
    return { ok: false, problem: 'no-fenced-block', reason: 'the answer has no fenced code block holding a method' };
  }
  const fence = FENCE_OPEN.exec(lines[start])![1];
  let end = -1;
  for (let i = lines.length - 1; i > start; i--) {
    const closing = lines[i].trim();
    if (closing.length >= fence.length && closing === fence[0].repeat(closing.length)) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    return {
      ok: false,
      problem: 'unclosed-fence',
      reason: 'the fenced block is never closed (the answer may have been cut off)',
    };
  }
  const method = lines
    .slice(start + 1, end)
    .join('\n')
    .replace(/^\s*\n|\s+$/g, '');
  if (!method.trim()) return { ok: false, problem: 'empty', reason: 'the fenced block is empty' };
  if (!method.includes(INSTRUCTION_PLACEHOLDER)) {
    return {
      ok: false,
      problem: 'no-placeholder',
      reason: `the method has no ${INSTRUCTION_PLACEHOLDER} placeholder, so no task could be put into it`,
    };
  }
  if (method.length > maxChars) {
    return {
      ok: false,
      problem: 'too-long',
      reason: `the method has ${method.length} characters, more than the limit of ${maxChars}`,
    };
  }
  return { ok: true, method };
}

// ---------------------------------------------------------------------------------------------
// Configuration

/** The paper's settings (App. F.2) as defaults. */
export const AutoEvolSettingsSchema = z
  .object({
    /** Optimization steps at most; the paper found quality falling after about 12. */
    steps: z.number().int().positive().default(10),
    /** m: candidate methods per step (trajectory analysis and optimization sampled m times). */
    candidates: z.number().int().positive().max(20).default(5),
    /** Instructions per mini-batch. */
    batchSize: z.number().int().positive().default(10),
    /** Instructions in the development set, when it is drawn from the input. */
    devSize: z.number().int().positive().default(50),
    /** l: successive evolutions of each mini-batch instruction in the trajectory. */
    evolutionsPerInstruction: z.number().int().positive().max(10).default(3),
    /**
     * Stop early after this many steps in a row in which the failure rate did not fall. Absent: every step of the
     * budget runs, as in the authors' code (learning runs that began before this stopped after one such step).
     */
    patience: z.number().int().positive().optional(),
    /** An optimizer's method longer than this is a failed candidate. */
    maxMethodChars: z.number().int().positive().default(DEFAULT_MAX_METHOD_CHARS),
    /** LLM calls in flight at once for this run. */
    concurrency: z.number().int().positive().default(16),
    /** Seed of the dev set and mini-batch draws. */
    seed: z.number().int().default(0),
    initialMethod: z
      .string()
      .refine((m) => m.includes(INSTRUCTION_PLACEHOLDER), `the method needs the ${INSTRUCTION_PLACEHOLDER} placeholder`)
      .default(INITIAL_METHOD),
    /** F(r)'s patterns; the defaults when absent. */
    failurePatterns: z.array(FailurePatternSchema).optional(),
    /** Unusable answers (empty, no method) are asked again at once this many times; 2 when absent. */
    unusableRetries: z.number().int().min(0).max(10).optional(),
    /** What counts as a failed evolution on the dev set (see DETECTORS); `paper-and-rules` when absent. */
    detector: z.enum(DETECTORS).optional(),
  })
  .strict();
export type AutoEvolSettings = z.infer<typeof AutoEvolSettingsSchema>;

/** The evol LLM evolves and (as in the paper) its answers are judged; the optimizer improves the method. */
export const AutoEvolLlmSchema = endpointsFor(['evol', 'optimizer', 'responder'] as const);
export type AutoEvolLlm = z.infer<typeof AutoEvolLlmSchema>;

export const AutoEvolRunConfigSchema = AutoEvolSettingsSchema.extend({ llm: AutoEvolLlmSchema });
export type AutoEvolRunConfig = z.infer<typeof AutoEvolRunConfigSchema>;

/** A learning run's settings as the run store keeps them: the workflow's config and where its instructions came from. */
export const AutoRunSettingsSchema = AutoEvolRunConfigSchema.extend({
  kind: z.literal('auto-evol'),
  /** Instructions of the input in the run store, first; then `devFileCount` from the dev file (`devFile`). */
  inputCount: z.number().int().nonnegative(),
  devFileCount: z.number().int().nonnegative(),
  devFile: z.string().optional(),
});
export type AutoRunSettings = z.infer<typeof AutoRunSettingsSchema>;

/** The paper's sampling temperatures: a deterministic evol LLM, a varied optimizer. */
export const AUTO_EVOL_TEMPERATURE = { evol: 0, optimizer: 0.6 } as const;

type Env = Record<string, string | undefined>;

/**
 * The three endpoints of a learning run, from the same settings as `evol run`: the evol LLM is the
 * evolver role (temperature 0 unless the config file sets one), the responder role answers, and the
 * optimizer starts from the evolver and takes EVOL_OPTIMIZER_BASE_URL / _MODEL / _API_KEY_ENV.
 */
export function resolveAutoEvolLlm(options: { env: Env; file?: ConfigFile; mode?: LlmMode }): {
  llm: AutoEvolLlm;
  simulated: boolean;
  description: string;
} {
  const { env, file } = options;
  const base = resolveLlmConfig(options);
  const evol: LlmEndpoint = {
    ...base.llm.evolver,
    temperature: file?.llm?.evolver?.temperature ?? AUTO_EVOL_TEMPERATURE.evol,
    maxTokens: file?.llm?.evolver?.maxTokens ?? Math.max(base.llm.evolver.maxTokens, 2048),
  };
  const optimizer = LlmEndpointSchema.parse({
    ...base.llm.evolver,
    temperature: AUTO_EVOL_TEMPERATURE.optimizer,
    maxTokens: Math.max(base.llm.evolver.maxTokens, 3072),
    ...(base.simulated ? {} : extraRoleOverride(env, file, 'optimizer')),
  });
  // The paper answers the dev set with the evol LLM itself, at temperature 0.
  const llm = { evol, optimizer, responder: { ...evol } };
  const description = base.simulated
    ? base.description
    : `Using evol LLM ${evol.model} at ${evol.baseURL} (temperature ${evol.temperature}; it also answers the dev set), optimizer ${optimizer.model} at ${optimizer.baseURL} (temperature ${optimizer.temperature}).`;
  return { llm, simulated: base.simulated, description };
}

// ---------------------------------------------------------------------------------------------
// The learning run: workflow input, progress and method versions (plain data, no zod at runtime)

export interface AutoEvolInput {
  runId: string;
  config: AutoEvolRunConfig;
  /** Instructions of the input in the run store, first; then `devFileCount` from a dev file (0: drawn from the input). */
  inputCount: number;
  devFileCount: number;
  /** Absent on the first run; the state so far after continue-as-new. */
  state?: AutoEvolState;
}

export interface Evaluation {
  failureRate: number;
  failures: number;
}

/** One candidate of a step: the optimizer's feedback and method with its failure rate, or why it failed. */
export interface CandidateOutcome {
  sample: number;
  feedback?: string;
  casesNamed?: string[];
  method?: string;
  /** Why the candidate could not be used (no feedback, no fenced block, no placeholder, ...). */
  failure?: string;
  failureRate?: number;
  failures?: number;
  /** Dev-set cases this candidate failed, with the rule. */
  failedCases?: Array<{ id: string; rule: string }>;
}

/** The step in progress, in full: readable with the autoProgress query. */
export interface StepDetail {
  step: number;
  batch: string[];
  trajectory: TrajectoryCase[];
  candidates: CandidateOutcome[];
}

/** A finished step, compact: carried across continue-as-new. */
export interface StepSummary {
  step: number;
  batch: string[];
  rateBefore: number;
  candidates: Array<{ sample: number; failureRate?: number; failures?: number; failure?: string; excerpt?: string }>;
  /** The sample with the lowest failure rate, if any candidate was usable. */
  best?: number;
  adopted: boolean;
  rateAfter: number;
}

export type AutoPhase = 'baseline' | 'trajectory' | 'optimization' | 'evaluation' | 'finished';

export interface AutoEvolState {
  method: string;
  /** The step whose candidate the current method is (0: the initial method). */
  methodStep: number;
  baseline?: Evaluation;
  current?: Evaluation;
  stepsDone: number;
  /** Steps in a row in which the failure rate did not fall. */
  stalled: number;
  steps: StepSummary[];
  stopReason?: string;
  paused: boolean;
  pauseReason?: string;
  usage: Usage;
  llmCalls: number;
  continuedAsNew: number;
}

export interface AutoProgress extends AutoEvolState {
  runId: string;
  status: 'running' | 'paused' | 'completed';
  phase: AutoPhase;
  stepBudget: number;
  devSize: number;
  /** LLM calls of the current phase: done and planned. */
  work: { done: number; total: number };
  /** The step in progress. */
  inProgress?: StepDetail;
}

/** The method in force after a step, kept in the run store. */
export interface MethodVersion {
  runId: string;
  /** One learning from its start (continue-as-new included); a learning started over gets a new one. */
  learningId: string;
  /** 0: the initial method; t: after optimization step t. */
  step: number;
  method: string;
  failureRate: number;
  failures: number;
  devSize: number;
  /** initial: e0; adopted: a candidate of this step; kept: no candidate was at least as good. */
  origin: 'initial' | 'adopted' | 'kept';
  /** The adopted candidate's sample number. */
  sample?: number;
  /** Every candidate of the step: its failure rate or why it failed. */
  candidates?: StepSummary['candidates'];
  /** Set by the store's writer. */
  savedAt?: string;
}

/** The shape of a method file (`evol run --method FILE`). */
export interface MethodFile {
  name: string;
  operations: Array<{ name: string; template: string; weight: number; system?: string }>;
  /** The evolver's sampling the method was learned with; `evol run --method` uses it unless the config sets its own. */
  sampling?: { temperature: number; topP?: number; maxTokens: number };
}

export function methodFile(
  runId: string,
  version: Pick<MethodVersion, 'step' | 'method'>,
  evol?: Pick<LlmEndpoint, 'temperature' | 'topP' | 'maxTokens'>,
): MethodFile {
  return {
    name: `auto-evol-${runId}`,
    ...(evol
      ? {
          sampling: {
            temperature: evol.temperature,
            ...(evol.topP !== undefined ? { topP: evol.topP } : {}),
            maxTokens: evol.maxTokens,
          },
        }
      : {}),
    operations: [
      {
        name: `auto-evol-${runId}-step-${version.step}`,
        template: version.method,
        weight: 1,
        system: EVOL_METHOD_SYSTEM,
      },
    ],
  };
}
