/** The unit tier's test timeout: its tests need no server and no build, so one that runs for long is stuck. */
jest.setTimeout(20_000);
