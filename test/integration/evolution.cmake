# NodeStateEvent versions 1 and 2 on one topic, BACKWARD and FULL in our registry, a projector of
# each version, and a Python producer (confluent-kafka's AvroSerializer) of the test venv.
sl_add_integration_script(test_schema_evolution test-schema-evolution.sh)
