import { addCounter, addHistograms, meanOf } from '../../bench/prometheus';

const SCRAPE = `# HELP temporal_request_latency Histogram of client request latencies
# TYPE temporal_request_latency histogram
temporal_request_latency_bucket{namespace="default",operation="RespondWorkflowTaskCompleted",le="50"} 9
temporal_request_latency_sum{namespace="default",operation="RespondWorkflowTaskCompleted",task_queue="q"} 200
temporal_request_latency_count{namespace="default",operation="RespondWorkflowTaskCompleted",task_queue="q"} 10
temporal_request_latency_sum{namespace="default",operation="StartWorkflowExecution"} 30
temporal_request_latency_count{namespace="default",operation="StartWorkflowExecution"} 1
temporal_workflow_task_execution_latency_sum{task_queue="q",workflow_type="instructionEvolution"} 90
temporal_workflow_task_execution_latency_count{task_queue="q",workflow_type="instructionEvolution"} 3
temporal_workflow_task_schedule_to_start_latency_sum{task_queue="q"} 0
temporal_workflow_task_schedule_to_start_latency_count{task_queue="q"} 0
temporal_num_pollers{poller_type="workflow_task"} 5
`;

describe("the SDK's Prometheus metrics, as the bench reads them", () => {
  test('histograms are keyed by metric and operation or workflow type, and summed over scrapes', () => {
    const histograms = addHistograms(SCRAPE);
    expect(meanOf(histograms, 'temporal_request_latency{RespondWorkflowTaskCompleted}')).toBe(20);
    expect(meanOf(histograms, 'temporal_request_latency{StartWorkflowExecution}')).toBe(30);
    expect(meanOf(histograms, 'temporal_workflow_task_execution_latency{instructionEvolution}')).toBe(30);
    // No observation, no mean; a gauge is not a histogram.
    expect(meanOf(histograms, 'temporal_workflow_task_schedule_to_start_latency')).toBeUndefined();
    expect(meanOf(histograms, 'temporal_num_pollers')).toBeUndefined();

    // A second worker's scrape adds to the first.
    addHistograms(
      'temporal_request_latency_sum{operation="RespondWorkflowTaskCompleted"} 100\ntemporal_request_latency_count{operation="RespondWorkflowTaskCompleted"} 10\n',
      histograms,
    );
    expect(meanOf(histograms, 'temporal_request_latency{RespondWorkflowTaskCompleted}')).toBe(15);
  });
});

describe("EvolForge's own counters there", () => {
  test('a counter is summed by kind over series and scrapes, with or without the _total suffix', () => {
    const scrape = `# TYPE evol_store_requests counter
evol_store_requests{kind="PUT"} 3
evol_store_requests{kind="GET",service_name="temporal-core-sdk"} 2
evol_store_requests_total{kind="GET"} 1
evol_store_request_bytes{kind="PUT"} 600
evol_store_requests_other{kind="PUT"} 100
`;
    const counter = addCounter(scrape, 'evol_store_requests');
    expect(Object.fromEntries(counter)).toEqual({ PUT: 3, GET: 3 });
    addCounter('evol_store_requests{kind="PUT"} 4\n', 'evol_store_requests', counter);
    expect(counter.get('PUT')).toBe(7);
    expect(Object.fromEntries(addCounter(scrape, 'evol_store_request_bytes'))).toEqual({ PUT: 600 });
  });
});
