package com.stigmer.stigma;

import com.google.protobuf.Descriptors;
import com.google.protobuf.Empty;
import com.stigmer.stigma.v1.StartAgentRequest;
import com.stigmer.stigma.v1.StigmaServiceOuterClass;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.util.function.BiConsumer;

/**
 * The StigmaService binding, from the proto's own descriptor (what protoc-gen-grpc-java would
 * generate for the one unary RPC). A body that does not parse is refused by grpc-java before
 * our code runs (INTERNAL), which the contract accepts for an undecodable request.
 */
public final class StigmaGrpc {
  private StigmaGrpc() {}

  public static final Descriptors.ServiceDescriptor SERVICE =
      StigmaServiceOuterClass.getDescriptor().findServiceByName("StigmaService");
  public static final String SERVICE_NAME = SERVICE.getFullName(); // stigma.v1.StigmaService

  public static final MethodDescriptor<StartAgentRequest, Empty> START_AGENT =
      MethodDescriptor.<StartAgentRequest, Empty>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName(
              MethodDescriptor.generateFullMethodName(
                  SERVICE_NAME, SERVICE.findMethodByName("StartAgent").getName()))
          .setRequestMarshaller(ProtoUtils.marshaller(StartAgentRequest.getDefaultInstance()))
          .setResponseMarshaller(ProtoUtils.marshaller(Empty.getDefaultInstance()))
          .build();

  public static ServerServiceDefinition bind(
      BiConsumer<StartAgentRequest, StreamObserver<Empty>> startAgent) {
    return ServerServiceDefinition.builder(SERVICE_NAME)
        .addMethod(START_AGENT, ServerCalls.asyncUnaryCall(startAgent::accept))
        .build();
  }
}
