/**
 * The real-model tier's own reading of whether an exported instruction is still a task. It is written apart from the
 * gates (core/gates.ts) and knows nothing of the judge, so that the tier does not check the pipeline against itself,
 * and it is stricter than the gates where they guess: only a sentence can ask, by its first words or by a question
 * mark; a request verb after a comma counts only behind an opening clause such as "Given ...,"; a list counts as an
 * answer's steps unless a sentence outside it asks.
 *
 * It looks for the failures a real small model's rows showed after they had passed every rule and gate:
 * - steps: a list (two items or more) with no request before or after it, where the parent was no such list: how to
 *   solve the parent, not a harder task;
 * - a statement: nothing in the text asks, so whatever task it came from is gone;
 * - a reply: it opens as an answer does ("Sure", "What a ...", "I am going to share ...") and its first sentence
 *   asks for nothing.
 * Pure, so the unit tier checks it on the rows that got through before (test/unit/task-shape.test.ts).
 */

/** Verbs that open a request. */
const REQUEST_VERBS = new Set(
  (
    'add analyse analyze answer apply arrange assess build calculate categorize change check choose classify combine ' +
    'compare compile complete compose compute construct convert correct count create critique debug decide define ' +
    'derive describe design detail determine develop devise discuss draft draw edit estimate evaluate examine explain ' +
    'explore express extract find fix formulate generate give identify illustrate implement improve include ' +
    'interpret justify label list locate make name outline paraphrase plan predict prepare present produce propose ' +
    'prove provide rank rate recommend rephrase replace restate review revise rewrite select show simplify sketch ' +
    'solve sort state suggest summarise summarize tell trace transform translate use verify write imagine pretend ' +
    'act assume consider suppose read look take put keep return print output brainstorm reply respond come turn try ' +
    'fill send decline invent guess recall match pick sum reverse group split organize organise order play detect ' +
    'encode decode ask arrange insert remove delete merge format reformat fill complete think'
  ).split(' '),
);

/** Words that open a question. */
const QUESTION_WORDS = new Set(
  'what how why which who whom whose when where is are does do did can could should would will has have was were shall may'.split(
    ' ',
  ),
);

/** Words a sentence may open with before its request ("Please list", "Then explain", "Finally, write"). */
const LEAD_WORDS = new Set(
  'please now then also and next finally first second third lastly kindly additionally'.split(' '),
);

/** Opening clauses after which a request follows the comma ("Given two strings, return the longer one"). */
const OPENING_CLAUSE =
  /^(?:given|using|based on|with|for|if|when|assuming|suppose|considering|after|before|in|from|on|as|according to|to|without)\b/;

/** Ways of asking that are no verb at the start of a sentence; duties of the reader count wherever they stand. */
const REQUEST_PHRASES =
  /\b(?:can you|could you|would you|will you|i (?:want|need|would like|'d like) you to|your (?:task|job|goal|answer|response)|you are (?:given|asked)|you will be (?:given|asked)|you (?:must|should|need to|have to)|help me|act as)\b/;

/** A line that introduces requirements: the list after it says what the answer must do. */
const REQUIREMENTS = /\b(?:must|should|needs? to|has to|requirements?|the following|as follows)\s*:?\s*$/;

/** A writer announcing what they will tell, anywhere in the first sentence. */
const NARRATION = /\b(?:i|we)(?:'m| am|'re| are|'ll| will)(?: going to)? share\b|\bshare with you\b/;

/** How a reply opens. */
const REPLY_OPENER =
  /^(?:sure|certainly|of course|absolutely|what an? |great question|good question|thank you|thanks|the answer|answer\s*:|solution\s*:|in conclusion|in summary|i think|i believe|(?:today,? )?i(?:'m| am) going to|i will share|in this (?:article|post|blog|video|guide|lesson)\b|as an ai|hello|hi,)/;

/** A list item's marker: "1.", "2)", "Step 3:", "-", "*", "•". */
const ITEM = /^\s*(?:\d{1,2}[.)]|step\s+\d+\s*[:.)-]?|[-*•])\s+/i;

function proseOf(text: string): string {
  return text
    .replace(/```[\s\S]*?(?:```|$)/g, ' ')
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'");
}

/** Sentences, lines, list items and what follows a colon; each marked when it follows a colon. */
function sentencesOf(prose: string): Array<{ text: string; afterColon: boolean }> {
  const parts = prose.split(/((?<=[.!?])\s+|\n+|:\s+|;\s*|\s[-–—]\s)/);
  const out: Array<{ text: string; afterColon: boolean }> = [];
  for (let i = 0; i < parts.length; i += 2) {
    const text = parts[i]
      .replace(/^[\s"'“`*_>#]+/, '')
      .replace(ITEM, '')
      .trim();
    if (text) out.push({ text, afterColon: i > 0 && parts[i - 1].startsWith(':') });
  }
  return out;
}

function firstWords(sentence: string): string[] {
  const words = sentence.split(/[\s,]+/).map((w) => w.replace(/[^a-z']/g, ''));
  let i = 0;
  while (i < words.length - 1 && LEAD_WORDS.has(words[i])) i++;
  return words.slice(i);
}

/** "Converting 85 F to Celsius." asks as "Convert ..." does. */
function isGerund(word: string): boolean {
  const stem = word.endsWith('ing') ? word.slice(0, -3) : '';
  return stem.length > 2 && [stem, `${stem}e`, stem.slice(0, -1)].some((verb) => REQUEST_VERBS.has(verb));
}

/**
 * Whether one sentence asks: a question mark, a request phrase, a request verb or a question word first ("What a"
 * exclaims), a gerund first unless it follows a colon (then it lists), or a request verb after an opening clause.
 */
function sentenceAsks({ text, afterColon }: { text: string; afterColon: boolean }): boolean {
  if (text.includes('?') || REQUEST_PHRASES.test(text)) return true;
  const [first, second] = firstWords(text);
  if (REQUEST_VERBS.has(first) || (!afterColon && isGerund(first))) return true;
  if (QUESTION_WORDS.has(first) && !(first === 'what' && (second === 'a' || second === 'an'))) return true;
  const comma = text.indexOf(', ');
  return OPENING_CLAUSE.test(text) && comma > 0 && REQUEST_VERBS.has(firstWords(text.slice(comma + 2))[0]);
}

function lineAsks(line: string): boolean {
  return REQUIREMENTS.test(line) || sentencesOf(line).some(sentenceAsks);
}

function linesOf(text: string): string[] {
  return proseOf(text)
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

/** A list of two items or more, and no line outside it that asks or introduces requirements. */
function isBareList(text: string): boolean {
  const lines = linesOf(text);
  const outside = lines.filter((line) => !ITEM.test(line));
  return lines.length - outside.length >= 2 && !outside.some(lineAsks);
}

/** Why the instruction is no task of its parent's (steps, a statement, a reply), or undefined when it is one. */
export function notATask(instruction: string, parent: string): string | undefined {
  if (isBareList(instruction) && !isBareList(parent)) return 'a list of steps with no request around it';
  const lines = linesOf(instruction);
  if (!lines.some(lineAsks)) return 'a statement: nothing in it asks for anything';
  const [first] = sentencesOf(lines.join('\n'));
  const replies = REPLY_OPENER.test(first.text) || NARRATION.test(first.text);
  if (replies && !sentenceAsks(first)) return 'a reply, opening as answers do, or announcing what it will tell';
  return undefined;
}

/**
 * Rewrites of a real small model (SmolLM2-135M) that got past every gate before the judge was asked whether a rewrite
 * is still a task: two written to the issue's account of the rows it found exported, the others as runs of the tier
 * wrote them (the code answer was then eliminated only because the judge happened to call it EQUAL). The tier's own
 * reading must catch each of them, and so must the gates now (test/unit/gates.test.ts).
 */
export const ROWS_THAT_GOT_THROUGH: Array<
  [name: string, parent: string, row: string, shape: 'a list of steps' | 'a statement' | 'a reply']
> = [
  [
    'a numbered explanation of how to solve the parent',
    'A shop sells pencils at 3 for 1 dollar. How much do 24 pencils cost?',
    'To find out how much 24 pencils cost, follow these steps:\n1. Divide 24 by 3 to find how many groups of three pencils there are.\n2. Multiply the number of groups by 1 dollar.\n3. Write down the total cost in dollars.',
    'a list of steps',
  ],
  [
    'a paragraph about things to share today, its request gone',
    'Share three things you learned this week about time management, and explain how you will use each.',
    'In this post, I am going to share with you today some of the things that I have learned about time management this week. You will learn how planning the week on Sunday, blocking time for deep work and saying no to meetings without an agenda can help you, and you should find them useful.',
    'a reply',
  ],
  [
    'a statement about the causes, after a leaked tag (exported by a run of the tier)',
    'Describe two causes of the fall of the Western Roman Empire.',
    '<example>\nThere are multiple causes that have been linked to the fall of the Western Roman Empire. One is the rising costs and trade deficit caused by the expanding Roman Empire\'s expansion in terms of agriculture, as well as the need to invest heavily in building infrastructure. Another reason could be the weakening of the Byzantine Empire with the rise of Islamism during the 7th century CE, which ultimately led to a decrease in political stability that eventually resulted in the Arab conquests and Islamic rule over Eastern Europe, also referred to as the "Renaissance." \n\n<instructions>\n- To explain the Roman Empire\'s role from an economic',
    'a statement',
  ],
  [
    'a code answer with its advice (a run of the tier)',
    'Write a Python function that returns the second largest number in a list.',
    'If you want to find the second largest number in a list of numbers, you can use the built-in `max` function and filter out the ones that are not even greater than 10:\n```python\ndef get_second_largest(numbers):\n    return max(numbers, None) if numbers else sorted(numbers)[-2]\n\nprint(get_second_largest([5,6,4,8])) # Output: 9\n```\nThis function returns the second largest number by using list slicing.',
    'a statement',
  ],
  [
    'the things to share, listed after a colon',
    'Share three things you learned this week about time management, and explain how you will use each.',
    'These are the three things I am going to share with you today about time management: planning the week on Sunday, blocking time for deep work, and saying no to meetings without an agenda.',
    'a statement',
  ],
  [
    'a reply that opens with "What a"',
    'What is the capital of France?',
    'What a great question! The capital of France is Paris, which is also its largest city.',
    'a statement',
  ],
];
