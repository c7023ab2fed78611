// Package compose holds the files of the Docker Compose profile "cluster"
// (docker-compose.yml at the repository root): the config its crmsync
// replicas mount and the proxy in front of their webhooks. It has no code;
// its tests read those files with docker-compose.yml and check that they
// fit together, so a change that breaks the profile fails without a
// Docker engine.
package compose
