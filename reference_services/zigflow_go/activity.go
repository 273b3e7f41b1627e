// The handshake: Zigflow's agent activity hands its task token to Stigma, waits only
// for the ACK, then goes "result pending". This file is all a Zigflow needs for it
// (docs handbook, "The contract"); main.go is the service around it.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	stigmav1 "github.com/handshake-harness/zigflow-go/gen/stigma/v1"
)

// ActivityName is the agent activity's type name (harness/contract.py).
const ActivityName = "ExecuteAgent"

// Modes of a call: the token handshake, or the pre-handshake direct call.
const (
	ModeHandshake = "handshake"
	ModeDirect    = "direct"
)

// Error types of a failed StartAgent (ApplicationError.Type).
const (
	ErrTypeUnavailable = "StigmaUnavailable" // retryable: the request may succeed later
	ErrTypeRejected    = "StigmaRejected"    // non-retryable: the request itself is refused
	ErrTypeBadCall     = "BadAgentCall"      // non-retryable: the activity's argument is invalid
)

// AgentCall is the activity's one argument.
type AgentCall struct {
	AgentID   string `json:"agent_id"`
	InputJSON string `json:"input_json"`
	Mode      string `json:"mode"`
}

// DirectResult is what a direct call returns at Stigma's ACK.
type DirectResult struct {
	Acked          bool   `json:"acked"`
	Mode           string `json:"mode"`
	IdempotencyKey string `json:"idempotency_key"`
}

// retryableCodes: nothing is known to be wrong with the request itself, so the same
// logical call may succeed on a later attempt (same idempotency key, new token).
var retryableCodes = map[codes.Code]bool{
	codes.Unavailable:       true,
	codes.DeadlineExceeded:  true,
	codes.ResourceExhausted: true,
	codes.Aborted:           true,
	codes.Internal:          true,
	codes.Unknown:           true,
}

// codeNames are the canonical (proto enum) spellings, as other languages log them.
var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED",
	codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS",
	codes.Unauthenticated: "UNAUTHENTICATED",
}

func codeName(c codes.Code) string {
	if name, ok := codeNames[c]; ok {
		return name
	}
	return c.String()
}

// TokenFingerprint names a task token in logs: the first 12 hex digits of its SHA-256.
// A token is a capability (whoever holds it can complete the activity): never log it.
func TokenFingerprint(token []byte) string {
	if len(token) == 0 {
		return "none"
	}
	sum := sha256.Sum256(token)
	return hex.EncodeToString(sum[:])[:12]
}

// Activities holds the agent activity's dependencies.
type Activities struct {
	Stigma     stigmav1.StigmaServiceClient
	AckTimeout time.Duration
	Log        *slog.Logger
	Metrics    *Metrics // nil: no metrics served
}

// ExecuteAgent calls StartAgent with this attempt's task token (handshake) or none
// (direct); a handshake then returns activity.ErrResultPending and Stigma completes
// the attempt by token.
func (a *Activities) ExecuteAgent(ctx context.Context, call AgentCall) (*DirectResult, error) {
	info := activity.GetInfo(ctx)
	mode := call.Mode
	if mode == "" {
		mode = ModeHandshake
	}
	key := fmt.Sprintf("%s/%s/%s", info.WorkflowExecution.ID, info.WorkflowExecution.RunID, info.ActivityID)
	var token []byte
	if mode == ModeHandshake {
		token = info.TaskToken
	}
	log := a.Log.With(
		"workflow_id", info.WorkflowExecution.ID,
		"run_id", info.WorkflowExecution.RunID,
		"activity_id", info.ActivityID,
		"attempt", info.Attempt,
		"idempotency_key", key,
		"agent_id", call.AgentID,
		"mode", mode,
		"token_fp", TokenFingerprint(token),
	)
	if mode != ModeHandshake && mode != ModeDirect {
		log.Warn("execute_agent.bad_mode")
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("mode must be %q or %q, got %q", ModeHandshake, ModeDirect, call.Mode),
			ErrTypeBadCall, nil)
	}
	log.Info("execute_agent.start")
	req := &stigmav1.StartAgentRequest{
		AgentId:        call.AgentID,
		Input:          []byte(call.InputJSON),
		CallbackToken:  token,
		IdempotencyKey: key,
		Correlation: &stigmav1.Correlation{
			ZigflowWorkflowId: info.WorkflowExecution.ID,
			ZigflowRunId:      info.WorkflowExecution.RunID,
			ZigflowActivityId: info.ActivityID,
			ZigflowAttempt:    info.Attempt,
			TraceId:           key,
		},
	}
	if mode == ModeHandshake && info.HeartbeatTimeout > 0 {
		req.HeartbeatTimeout = durationpb.New(info.HeartbeatTimeout)
	}
	callCtx, cancel := context.WithTimeout(ctx, a.AckTimeout)
	defer cancel()
	if _, err := a.Stigma.StartAgent(callCtx, req); err != nil {
		return nil, classify(err, log)
	}
	if mode == ModeDirect {
		log.Info("execute_agent.acked_direct")
		return &DirectResult{Acked: true, Mode: ModeDirect, IdempotencyKey: key}, nil
	}
	log.Info("execute_agent.pending")
	a.Metrics.WentResultPending()
	// The worker slot is freed here; Stigma completes this attempt by token.
	return nil, activity.ErrResultPending
}

// classify turns a StartAgent error into an application error: fail fast, never
// pending; retryable when the same request may succeed later.
func classify(err error, log *slog.Logger) error {
	code := status.Code(err)
	if errors.Is(err, context.DeadlineExceeded) {
		code = codes.DeadlineExceeded
	}
	details := status.Convert(err).Message()
	name := codeName(code)
	retryable := retryableCodes[code]
	log.Warn("execute_agent.stigma_error", "code", name, "details", details, "retryable", retryable)
	msg := fmt.Sprintf("StartAgent failed with %s: %s", name, details)
	detail := map[string]string{"grpc_code": name, "details": details}
	if retryable {
		return temporal.NewApplicationError(msg, ErrTypeUnavailable, detail)
	}
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeRejected, nil, detail)
}
