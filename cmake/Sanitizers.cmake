# CHATTERD_SANITIZE="address;undefined" or "thread": applied to everything we build.
if(CHATTERD_SANITIZE)
  string(REPLACE ";" "," _san "${CHATTERD_SANITIZE}")
  add_compile_options(-fsanitize=${_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_san})
  message(STATUS "chatterd: sanitizers ${_san}")
endif()
