"""Reference Stigma: gRPC StartAgent server plus a Temporal worker running the agent.

When the agent ends, a system activity completes or fails the waiting Zigflow
activity by its task token.
"""
