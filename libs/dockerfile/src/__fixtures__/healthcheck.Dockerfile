FROM nginx
HEALTHCHECK --interval=5m --timeout=3s \
  CMD curl -f http://localhost/ || exit 1
HEALTHCHECK --start-period=1m30s --start-interval=500ms --retries=3 CMD ["/healthcheck", "--quick"]
HEALTHCHECK NONE
healthcheck cmd true
