//! Compiles the protocol definitions in `proto/` with protox (pure Rust, so no system `protoc`)
//! and generates the tonic services and prost messages.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/tfplugin6.proto",
        "proto/grpc_controller.proto",
        "proto/grpc_stdio.proto",
        "proto/grpc_broker.proto",
    ];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(protos, ["proto"])?;
    tonic_prost_build::configure()
        // Generate google.protobuf.Timestamp/Empty ourselves instead of depending on prost-types.
        .compile_well_known_types(true)
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
