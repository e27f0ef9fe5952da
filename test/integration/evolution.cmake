# NodeStateEvent versions 1 and 2 on one topic, BACKWARD and FULL in our registry, a projector of
# each version, and a Python producer (confluent-kafka's AvroSerializer) of the test venv.
sl_add_integration_script(test_schema_evolution test-schema-evolution.sh)
# A mixed fleet end to end: bridged nodes, version-1 and version-2 writers, Python producers, one
# node migrating from the bridge to its agent, seen through the projector's API and watch stream.
sl_add_integration_script(test_mixed_fleet test-mixed-fleet.sh)
