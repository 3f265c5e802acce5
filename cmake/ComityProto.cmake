# comity_proto_library(NAME PROTO...): a static library of the C++ that protoc generates, at
# build time, from PROTO files given relative to the current source folder. Generated code
# lives in the build tree only; includes are "<path from the repository root>.pb.h".
function(comity_proto_library name)
  set(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/gen)
  file(RELATIVE_PATH rel_dir ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  file(MAKE_DIRECTORY ${gen_dir}/${rel_dir})
  set(srcs "")
  foreach(proto ${ARGN})
    get_filename_component(stem ${proto} NAME_WE)
    set(cc ${gen_dir}/${rel_dir}/${stem}.pb.cc)
    set(h ${gen_dir}/${rel_dir}/${stem}.pb.h)
    add_custom_command(
      OUTPUT ${cc} ${h}
      COMMAND protobuf::protoc --proto_path=${CMAKE_SOURCE_DIR} --cpp_out=${gen_dir}
              ${CMAKE_CURRENT_SOURCE_DIR}/${proto}
      DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${proto} protobuf::protoc
      COMMENT "protoc ${rel_dir}/${proto}")
    list(APPEND srcs ${cc})
  endforeach()
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC ${gen_dir})
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf)
endfunction()
