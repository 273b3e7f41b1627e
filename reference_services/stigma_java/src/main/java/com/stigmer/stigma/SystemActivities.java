package com.stigmer.stigma;

import io.temporal.activity.ActivityInterface;
import io.temporal.activity.ActivityMethod;

/**
 * Stigma's system activities: the only code that touches a Zigflow task token (workflow code
 * cannot call Temporal's client). Names are the contract's (docs handbook "Temporal names"); a
 * refused or dead token is an outcome, never an exception, so it is never retried.
 */
@ActivityInterface
public interface SystemActivities {
  @ActivityMethod(name = "complete_zigflow_activity")
  Model.CompletionOutcome complete(Model.Completion completion);

  @ActivityMethod(name = "fail_zigflow_activity")
  Model.CompletionOutcome fail(Model.Completion completion);

  @ActivityMethod(name = "cancel_zigflow_activity")
  Model.CompletionOutcome cancel(Model.Completion completion);

  /** One heartbeat by token; its answer is how Zigflow's cancellation reaches Stigma. */
  @ActivityMethod(name = "heartbeat_zigflow_activity")
  Model.CompletionOutcome heartbeat(Model.Completion completion);
}
