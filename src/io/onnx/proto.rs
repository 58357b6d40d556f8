//! The subset of ONNX's protobuf messages (`onnx.proto`, IR version 9) that an exported model
//! needs, as `prost` structs written by hand: the field numbers and types below are those of the
//! `.proto` file, so no protoc and no build script are needed. Fields nabla never uses (sparse
//! tensors, functions, training info, quantisation annotations) are left out; the decoder skips
//! them. Two fields are only read, never written (`float_data`, `data_location`): the reader takes
//! weights that other tools wrote that way, and an empty or default field is not encoded, so the
//! writer's bytes are those it wrote before they were added. `onnx.proto` is proto2, whose repeated numbers are not packed: they are written
//! unpacked here too (`packed = "false"`), exactly as the reference implementation writes them.

/// A whole model: the graph and the operator sets it uses.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    /// The version of the IR (the file format) the model follows.
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    /// The operator sets (domain, version) the graph's nodes come from.
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    /// The tool that wrote the model.
    #[prost(string, tag = "2")]
    pub producer_name: String,
    /// Its version.
    #[prost(string, tag = "3")]
    pub producer_version: String,
    /// A description for people.
    #[prost(string, tag = "6")]
    pub doc_string: String,
    /// The computation.
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    /// Key/value pairs that tools show and keep (nabla's spec, the input scaling).
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

/// One operator set: a domain ("" is the default, `ai.onnx`) at a version.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OperatorSetIdProto {
    /// The domain.
    #[prost(string, tag = "1")]
    pub domain: String,
    /// The version of the set.
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// A key/value pair of strings.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StringStringEntryProto {
    /// The key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// The value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A graph: nodes in topological order, the constant tensors they read, and its inputs and
/// outputs.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphProto {
    /// The nodes, each after those whose outputs it reads.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    /// The graph's name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// The constant tensors (weights), by name.
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    /// A description for people.
    #[prost(string, tag = "10")]
    pub doc_string: String,
    /// The graph's inputs, with types and shapes.
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    /// The graph's outputs, with types and shapes.
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// One operator applied to named values, giving named values.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeProto {
    /// The names of the values it reads ("" for an optional input left out).
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    /// The names of the values it writes.
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    /// A name for people and tools.
    #[prost(string, tag = "3")]
    pub name: String,
    /// The operator (`Conv`, `LSTM`, …).
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// The operator's attributes.
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

/// The kinds of attribute value (`AttributeProto.AttributeType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum AttributeType {
    /// Not set. prost takes an enumeration's first variant as its default and does not write a
    /// field that holds it: `onnx.proto` lists this 0 first, and so must nabla, or the type it
    /// means would be dropped from the file.
    Undefined = 0,
    /// One float (`f`).
    Float = 1,
    /// One integer (`i`).
    Int = 2,
    /// One string (`s`).
    String = 3,
    /// A list of integers (`ints`).
    Ints = 7,
}

/// A named attribute of a node; the field that holds the value is the one its type names.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    /// The attribute's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Which field holds the value.
    #[prost(enumeration = "AttributeType", tag = "20")]
    pub r#type: i32,
    /// A float value.
    #[prost(float, tag = "2")]
    pub f: f32,
    /// An integer value.
    #[prost(int64, tag = "3")]
    pub i: i64,
    /// The value of a string attribute, as bytes.
    #[prost(bytes = "vec", tag = "4")]
    pub s: Vec<u8>,
    /// A list of integers.
    #[prost(int64, repeated, packed = "false", tag = "8")]
    pub ints: Vec<i64>,
}

/// The element types nabla writes (`TensorProto.DataType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum DataType {
    /// Not set: listed first for the reason given at [`AttributeType::Undefined`].
    Undefined = 0,
    /// 32-bit float.
    Float = 1,
    /// 64-bit signed integer (shapes, axes, pads).
    Int64 = 7,
}

/// A constant tensor: its shape, element type, name and values as little-endian bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// The shape.
    #[prost(int64, repeated, packed = "false", tag = "1")]
    pub dims: Vec<i64>,
    /// The element type (a [`DataType`]).
    #[prost(enumeration = "DataType", tag = "2")]
    pub data_type: i32,
    /// The name nodes read it by.
    #[prost(string, tag = "8")]
    pub name: String,
    /// The values, row-major, little-endian.
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    /// The values of a float tensor as a list, the other way of storing them (read only: nabla
    /// writes `raw_data`). `packed` as `onnx.proto` declares it.
    #[prost(float, repeated, packed = "true", tag = "4")]
    pub float_data: Vec<f32>,
    /// Where the values are: 0 in this file, 1 in an external file (which the reader refuses).
    #[prost(int32, tag = "14")]
    pub data_location: i32,
}

/// A graph input's or output's name and type.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueInfoProto {
    /// The name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The type (a tensor of some element type and shape).
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
    /// A description for people.
    #[prost(string, tag = "3")]
    pub doc_string: String,
}

/// A value's type. In `onnx.proto` this is a `oneof` whose tensor member has field number 1; a
/// message with that one optional field is the same on the wire.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeProto {
    /// A tensor type.
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorTypeProto>,
}

/// `TypeProto.Tensor`: an element type and a shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorTypeProto {
    /// The element type (a [`DataType`]).
    #[prost(enumeration = "DataType", tag = "1")]
    pub elem_type: i32,
    /// The shape, each dimension a number or a name.
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

/// A shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    /// The dimensions, outermost first.
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// One dimension: a fixed size or a symbolic name (the batch size `N`). In `onnx.proto` the two
/// are a `oneof` (field numbers 1 and 2); exactly one of them is set.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dimension {
    /// A fixed size.
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    /// A name, the same for every dimension of that size.
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}
