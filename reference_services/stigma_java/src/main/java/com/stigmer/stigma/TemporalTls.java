package com.stigmer.stigma;

import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.temporal.serviceclient.WorkflowServiceStubsOptions;
import java.io.File;
import java.io.IOException;

/**
 * TLS and an API key towards Temporal, from the service contract's STIGMA_TEMPORAL_TLS,
 * _TLS_CA, _TLS_CERT, _TLS_KEY, _TLS_SERVER_NAME and _API_KEY (docs/reference/contract.md).
 * Unset: plain text. The key is never logged: {@link #describe} names the kind of auth only.
 */
final class TemporalTls {
  private TemporalTls() {}

  static boolean uses(Config c) {
    return c.temporalTls
        || !c.temporalTlsCa.isEmpty()
        || !c.temporalTlsCert.isEmpty()
        || !c.temporalTlsKey.isEmpty()
        || !c.temporalApiKey.isEmpty();
  }

  static String describe(Config c) {
    if (!uses(c)) {
      return "plain";
    }
    if (!c.temporalApiKey.isEmpty()) {
      return "tls auth=api-key";
    }
    return c.temporalTlsCert.isEmpty() ? "tls auth=none" : "tls auth=mtls";
  }

  /** Both of Stigma's connections take the same settings (in the gate: one relay). */
  static WorkflowServiceStubsOptions.Builder apply(
      WorkflowServiceStubsOptions.Builder b, Config c) throws IOException {
    if (!uses(c)) {
      return b;
    }
    if (c.temporalTlsCert.isEmpty() != c.temporalTlsKey.isEmpty()) {
      throw new IOException(
          "STIGMA_TEMPORAL_TLS_CERT and STIGMA_TEMPORAL_TLS_KEY go together (mTLS)");
    }
    SslContextBuilder ssl = GrpcSslContexts.forClient();
    if (!c.temporalTlsCa.isEmpty()) {
      ssl.trustManager(new File(c.temporalTlsCa));
    }
    if (!c.temporalTlsCert.isEmpty()) {
      // PKCS#8 PEM (what `openssl req -newkey` writes).
      ssl.keyManager(new File(c.temporalTlsCert), new File(c.temporalTlsKey));
    }
    b.setSslContext(ssl.build());
    if (!c.temporalTlsServerName.isEmpty()) {
      // The name checked in the server's certificate, whatever address (a proxy or relay
      // of the harness) the connection goes to.
      String name = c.temporalTlsServerName;
      b.setChannelInitializer(channel -> channel.overrideAuthority(name));
    }
    if (!c.temporalApiKey.isEmpty()) {
      String key = c.temporalApiKey;
      b.addApiKey(() -> key);
    }
    return b;
  }
}
