# docker-compose.yml, checked without a Docker engine (Debian's docker-compose parses it). No
# broker: labelled unit.
sl_add_integration_script(test_compose test-compose.sh NO_FIXTURE)
set_tests_properties(test_compose PROPERTIES LABELS unit TIMEOUT 60)
