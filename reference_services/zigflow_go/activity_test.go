package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"

	stigmav1 "github.com/handshake-harness/zigflow-go/gen/stigma/v1"
)

// fakeStigma is a StigmaService on an in-memory listener: it records each request and
// answers with the next scripted error (none left: ACK).
type fakeStigma struct {
	stigmav1.UnimplementedStigmaServiceServer
	mu       sync.Mutex
	requests []*stigmav1.StartAgentRequest
	errs     []error
	delay    time.Duration
	onAck    func(*stigmav1.StartAgentRequest)
}

func (f *fakeStigma) StartAgent(ctx context.Context, req *stigmav1.StartAgentRequest) (*emptypb.Empty, error) {
	f.mu.Lock()
	f.requests = append(f.requests, req)
	var err error
	if len(f.errs) > 0 {
		err, f.errs = f.errs[0], f.errs[1:]
	}
	onAck := f.onAck
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	if onAck != nil {
		onAck(req)
	}
	return &emptypb.Empty{}, nil
}

func (f *fakeStigma) got() []*stigmav1.StartAgentRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*stigmav1.StartAgentRequest(nil), f.requests...)
}

func startFake(t *testing.T, f *fakeStigma) *Activities {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	stigmav1.RegisterStigmaServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(); srv.Stop() })
	return &Activities{
		Stigma:     stigmav1.NewStigmaServiceClient(conn),
		AckTimeout: 2 * time.Second,
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func activityEnv(acts *Activities) *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(acts.ExecuteAgent, activity.RegisterOptions{Name: ActivityName})
	return env
}

func TestHandshakeSendsTheTokenAndGoesPending(t *testing.T) {
	f := &fakeStigma{}
	env := activityEnv(startFake(t, f))
	_, err := env.ExecuteActivity(ActivityName, AgentCall{AgentID: "summarize", InputJSON: `{"doc":1}`, Mode: ModeHandshake})
	if !errors.Is(err, activity.ErrResultPending) {
		t.Fatalf("want ErrResultPending, got %v", err)
	}
	reqs := f.got()
	if len(reqs) != 1 {
		t.Fatalf("want 1 StartAgent, got %d", len(reqs))
	}
	r := reqs[0]
	if len(r.CallbackToken) == 0 || r.AgentId != "summarize" || string(r.Input) != `{"doc":1}` {
		t.Fatalf("bad request: %v", r)
	}
	c := r.Correlation
	want := c.ZigflowWorkflowId + "/" + c.ZigflowRunId + "/" + c.ZigflowActivityId
	if r.IdempotencyKey != want || c.TraceId != want || c.ZigflowAttempt != 1 {
		t.Fatalf("idempotency key %q / correlation %v, want key %q attempt 1", r.IdempotencyKey, c, want)
	}
	if r.HeartbeatTimeout != nil {
		t.Fatalf("no heartbeat timeout set, got %v", r.HeartbeatTimeout)
	}
}

func TestDirectCallSendsNoTokenAndReturnsAtTheAck(t *testing.T) {
	f := &fakeStigma{}
	env := activityEnv(startFake(t, f))
	val, err := env.ExecuteActivity(ActivityName, AgentCall{AgentID: "a", InputJSON: "{}", Mode: ModeDirect})
	if err != nil {
		t.Fatal(err)
	}
	var res DirectResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	r := f.got()[0]
	if len(r.CallbackToken) != 0 || !res.Acked || res.Mode != ModeDirect || res.IdempotencyKey != r.IdempotencyKey {
		t.Fatalf("result %+v for request %v", res, r)
	}
}

func TestOnlyAttemptsGoneResultPendingAreCounted(t *testing.T) {
	f := &fakeStigma{errs: []error{nil, status.Error(codes.Unavailable, "scripted")}}
	acts := startFake(t, f)
	acts.Metrics = &Metrics{}
	for _, mode := range []string{ModeHandshake, ModeHandshake, ModeDirect, ModeHandshake} {
		_, _ = activityEnv(acts).ExecuteActivity(ActivityName, AgentCall{AgentID: "a", InputJSON: "{}", Mode: mode})
	}
	// The first and the last handshake went result-pending; the refused one and the
	// direct call did not.
	rec := httptest.NewRecorder()
	acts.Metrics.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	want := "\n" + ResultPendingMetric + " 2\n"
	if !strings.Contains(rec.Body.String(), want) || !strings.Contains(rec.Body.String(), "# TYPE "+ResultPendingMetric+" counter") {
		t.Fatalf("want %q in the exposition, got:\n%s", want, rec.Body.String())
	}
}

func TestStartAgentErrorsAreClassified(t *testing.T) {
	cases := []struct {
		code      codes.Code
		retryable bool
	}{
		{codes.Unavailable, true}, {codes.DeadlineExceeded, true}, {codes.ResourceExhausted, true},
		{codes.Aborted, true}, {codes.Internal, true}, {codes.Unknown, true},
		{codes.InvalidArgument, false}, {codes.FailedPrecondition, false}, {codes.NotFound, false},
		{codes.PermissionDenied, false}, {codes.Unimplemented, false}, {codes.AlreadyExists, false},
	}
	for _, tc := range cases {
		t.Run(tc.code.String(), func(t *testing.T) {
			f := &fakeStigma{errs: []error{status.Error(tc.code, "scripted")}}
			env := activityEnv(startFake(t, f))
			_, err := env.ExecuteActivity(ActivityName, AgentCall{AgentID: "a", InputJSON: "{}", Mode: ModeHandshake})
			checkAppError(t, err, tc.retryable, codeName(tc.code))
		})
	}
}

func TestNoAckWithinTheDeadlineIsRetryable(t *testing.T) {
	f := &fakeStigma{delay: time.Second}
	acts := startFake(t, f)
	acts.AckTimeout = 50 * time.Millisecond
	env := activityEnv(acts)
	_, err := env.ExecuteActivity(ActivityName, AgentCall{AgentID: "a", InputJSON: "{}", Mode: ModeHandshake})
	checkAppError(t, err, true, "DEADLINE_EXCEEDED")
}

func TestAnUnknownModeIsNotRetried(t *testing.T) {
	f := &fakeStigma{}
	env := activityEnv(startFake(t, f))
	_, err := env.ExecuteActivity(ActivityName, AgentCall{AgentID: "a", InputJSON: "{}", Mode: "sideways"})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() || app.Type() != ErrTypeBadCall || len(f.got()) != 0 {
		t.Fatalf("want non-retryable %s before any call, got %v", ErrTypeBadCall, err)
	}
}

func checkAppError(t *testing.T, err error, retryable bool, code string) {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		t.Fatalf("want an ApplicationError, got %v", err)
	}
	wantType := ErrTypeRejected
	if retryable {
		wantType = ErrTypeUnavailable
	}
	if app.NonRetryable() == retryable || app.Type() != wantType {
		t.Fatalf("%s: non-retryable=%v type=%s, want retryable=%v type=%s", code, app.NonRetryable(), app.Type(), retryable, wantType)
	}
	var detail map[string]string
	if err := app.Details(&detail); err != nil || detail["grpc_code"] != code {
		t.Fatalf("details %v (%v), want grpc_code %s", detail, err, code)
	}
}

// callWorkflow calls the agent activity as the harness's workflow does: by type name,
// with a heartbeat timeout and a retry policy.
func callWorkflow(ctx workflow.Context, call AgentCall) (map[string]string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ActivityID:          "0-first",
		StartToCloseTimeout: 24 * time.Hour,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	})
	var out map[string]string
	err := workflow.ExecuteActivity(ctx, ActivityName, call).Get(ctx, &out)
	return out, err
}

// A retried attempt (UNAVAILABLE first) sends a new token under the same key; the
// result Stigma completes by that token is the workflow's.
func TestCompletionByTokenReachesTheWorkflow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	f := &fakeStigma{errs: []error{status.Error(codes.Unavailable, "down")}}
	f.onAck = func(req *stigmav1.StartAgentRequest) {
		go func() {
			_ = env.CompleteActivity(req.CallbackToken, map[string]string{"output": "done", "key": req.IdempotencyKey}, nil)
		}()
	}
	acts := startFake(t, f)
	env.RegisterActivityWithOptions(acts.ExecuteAgent, activity.RegisterOptions{Name: ActivityName})
	env.RegisterWorkflow(callWorkflow)
	env.ExecuteWorkflow(callWorkflow, AgentCall{AgentID: "a", InputJSON: "{}", Mode: ModeHandshake})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow: completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var out map[string]string
	if err := env.GetWorkflowResult(&out); err != nil {
		t.Fatal(err)
	}
	reqs := f.got()
	if len(reqs) != 2 {
		t.Fatalf("want 2 attempts, got %d", len(reqs))
	}
	first, second := reqs[0], reqs[1]
	if out["output"] != "done" || out["key"] != second.IdempotencyKey || first.IdempotencyKey != second.IdempotencyKey {
		t.Fatalf("result %v; keys %q, %q", out, first.IdempotencyKey, second.IdempotencyKey)
	}
	if first.Correlation.ZigflowAttempt != 1 || second.Correlation.ZigflowAttempt != 2 || second.Correlation.ZigflowActivityId != "0-first" {
		t.Fatalf("correlations %v, %v", first.Correlation, second.Correlation)
	}
	if second.HeartbeatTimeout.AsDuration() != 30*time.Second {
		t.Fatalf("heartbeat timeout %v, want 30s", second.HeartbeatTimeout)
	}
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	env := map[string]string{
		"ZIGFLOW_TASK_QUEUE": "from-env", "ZIGFLOW_ACK_TIMEOUT_S": "0.5",
		"ZIGFLOW_MAX_CONCURRENT_ACTIVITIES": "2", "ZIGFLOW_STIGMA_TARGET": "127.0.0.1:1",
	}
	c, err := parseConfig([]string{"--task-queue", "from-flag", "--max-concurrent-activities=7"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.TaskQueue != "from-flag" || c.MaxConcurrent != 7 || c.AckTimeout != 500*time.Millisecond ||
		c.StigmaTarget != "127.0.0.1:1" || c.Namespace != "default" {
		t.Fatalf("%+v", c)
	}
	if _, err := parseConfig(nil, func(k string) string {
		return map[string]string{"ZIGFLOW_ACK_TIMEOUT_S": "soon"}[k]
	}, io.Discard); err == nil {
		t.Fatal("a bad ZIGFLOW_ACK_TIMEOUT_S must be an error")
	}
}

func TestTokenFingerprint(t *testing.T) {
	// sha256("abc") = ba7816bf8f01cfea...
	if got := TokenFingerprint([]byte("abc")); got != "ba7816bf8f01" {
		t.Fatal(got)
	}
	if TokenFingerprint(nil) != "none" {
		t.Fatal("empty token")
	}
}
