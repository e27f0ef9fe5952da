# The registry client against third-party clients: confluent-kafka-python (from the virtualenv
# of scripts/python-env) talks to `seerlog registry`, reads what `seerlog publish` wrote and
# writes what `seerlog tail` reads. Needs the registry server (cmd/cmd_registry.c).
if(EXISTS ${PROJECT_SOURCE_DIR}/cmd/cmd_registry.c)
  sl_add_integration_script(test_registry_interop test-registry-interop.sh)
endif()
