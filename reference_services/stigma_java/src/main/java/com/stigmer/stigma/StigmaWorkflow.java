package com.stigmer.stigma;

import io.temporal.workflow.QueryMethod;
import io.temporal.workflow.SignalMethod;
import io.temporal.workflow.WorkflowInterface;
import io.temporal.workflow.WorkflowMethod;

/** One agent execution per idempotency key, workflow id "stigma-{key}". */
@WorkflowInterface
public interface StigmaWorkflow {
  @WorkflowMethod(name = "StigmaWorkflow")
  Model.ExecutionSummary run(Model.AgentRequest request, double completionWindowS);

  /** A (re)tried Zigflow attempt's token; the newest attempt wins. */
  @SignalMethod(name = "attach_token")
  void attachToken(Model.TokenAttachment attachment);

  @QueryMethod(name = "token_attempt")
  int tokenAttempt();
}
