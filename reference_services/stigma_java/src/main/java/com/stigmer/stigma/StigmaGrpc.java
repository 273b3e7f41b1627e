package com.stigmer.stigma;

import com.google.protobuf.Descriptors;
import com.google.protobuf.Empty;
import com.google.protobuf.InvalidProtocolBufferException;
import com.stigmer.stigma.v1.StartAgentRequest;
import com.stigmer.stigma.v1.StigmaServiceOuterClass;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.function.BiConsumer;

/**
 * The StigmaService binding, from the proto's own descriptor (what protoc-gen-grpc-java would
 * generate for the one unary RPC), with a request marshaller that never throws: grpc-java's
 * generated one throws on a body that does not parse (broken framing, invalid UTF-8 in a string
 * field), and the server answers that UNKNOWN ("Application error processing RPC"), which a
 * caller may retry. Here such a body reaches StartAgent as {@link Parsed#error} and gets
 * INVALID_ARGUMENT with a message.
 */
public final class StigmaGrpc {
  private StigmaGrpc() {}

  public static final Descriptors.ServiceDescriptor SERVICE =
      StigmaServiceOuterClass.getDescriptor().findServiceByName("StigmaService");
  public static final String SERVICE_NAME = SERVICE.getFullName(); // stigma.v1.StigmaService

  /** A request body: the message, or why it is not a StartAgentRequest. */
  public record Parsed(StartAgentRequest request, String error) {}

  static final MethodDescriptor.Marshaller<Parsed> REQUEST =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(Parsed value) {
          return value.request().toByteString().newInput();
        }

        @Override
        public Parsed parse(InputStream stream) {
          try {
            return new Parsed(StartAgentRequest.parseFrom(stream), null);
          } catch (InvalidProtocolBufferException e) {
            return new Parsed(null, e.getMessage());
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };

  public static final MethodDescriptor<Parsed, Empty> START_AGENT =
      MethodDescriptor.<Parsed, Empty>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName(
              MethodDescriptor.generateFullMethodName(
                  SERVICE_NAME, SERVICE.findMethodByName("StartAgent").getName()))
          .setRequestMarshaller(REQUEST)
          .setResponseMarshaller(ProtoUtils.marshaller(Empty.getDefaultInstance()))
          .build();

  public static ServerServiceDefinition bind(BiConsumer<Parsed, StreamObserver<Empty>> startAgent) {
    return ServerServiceDefinition.builder(SERVICE_NAME)
        .addMethod(START_AGENT, ServerCalls.asyncUnaryCall(startAgent::accept))
        .build();
  }
}
