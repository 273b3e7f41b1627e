package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"go.temporal.io/sdk/client"
)

// temporalTLS is the service contract's connection to a Temporal cluster behind TLS
// (ZIGFLOW_TEMPORAL_TLS, _TLS_CA, _TLS_CERT, _TLS_KEY, _TLS_SERVER_NAME, _API_KEY;
// docs/reference/contract.md). Unset: plain text.
type temporalTLS struct {
	Enabled    bool
	CA         string
	Cert       string
	Key        string
	ServerName string
	APIKey     string // never logged
}

func (t *temporalTLS) register(fs *flag.FlagSet, env func(name, def string) string) {
	on := strings.ToLower(env("ZIGFLOW_TEMPORAL_TLS", ""))
	fs.BoolVar(&t.Enabled, "temporal-tls", on == "1" || on == "true" || on == "yes",
		"connect to Temporal with TLS; implied by the options below (env ZIGFLOW_TEMPORAL_TLS)")
	fs.StringVar(&t.CA, "temporal-tls-ca", env("ZIGFLOW_TEMPORAL_TLS_CA", ""),
		"server CA certificate(s), PEM (env ZIGFLOW_TEMPORAL_TLS_CA)")
	fs.StringVar(&t.Cert, "temporal-tls-cert", env("ZIGFLOW_TEMPORAL_TLS_CERT", ""),
		"client certificate for mTLS, PEM (env ZIGFLOW_TEMPORAL_TLS_CERT)")
	fs.StringVar(&t.Key, "temporal-tls-key", env("ZIGFLOW_TEMPORAL_TLS_KEY", ""),
		"client private key for mTLS, PEM (env ZIGFLOW_TEMPORAL_TLS_KEY)")
	fs.StringVar(&t.ServerName, "temporal-tls-server-name", env("ZIGFLOW_TEMPORAL_TLS_SERVER_NAME", ""),
		"name to check in the server's certificate (env ZIGFLOW_TEMPORAL_TLS_SERVER_NAME)")
	fs.StringVar(&t.APIKey, "temporal-api-key", env("ZIGFLOW_TEMPORAL_API_KEY", ""),
		"API key, sent as a bearer token (env ZIGFLOW_TEMPORAL_API_KEY)")
}

func (t temporalTLS) uses() bool {
	return t.Enabled || t.CA != "" || t.Cert != "" || t.Key != "" || t.APIKey != ""
}

// describe is what the ready log line says: never the key.
func (t temporalTLS) describe() string {
	switch {
	case !t.uses():
		return "plain"
	case t.APIKey != "":
		return "tls auth=api-key"
	case t.Cert != "":
		return "tls auth=mtls"
	}
	return "tls auth=none"
}

// apply sets the TLS configuration and credentials of the client options.
func (t temporalTLS) apply(o *client.Options) error {
	if !t.uses() {
		return nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return fmt.Errorf("ZIGFLOW_TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("ZIGFLOW_TEMPORAL_TLS_CA %s: no PEM certificate in it", t.CA)
		}
		conf.RootCAs = pool
	}
	if (t.Cert == "") != (t.Key == "") {
		return errors.New("ZIGFLOW_TEMPORAL_TLS_CERT and ZIGFLOW_TEMPORAL_TLS_KEY go together (mTLS)")
	}
	if t.Cert != "" {
		pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			// The error names the files, not their contents.
			return fmt.Errorf("ZIGFLOW_TEMPORAL_TLS_CERT/KEY: %w", err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	o.ConnectionOptions.TLS = conf
	if t.APIKey != "" {
		o.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey)
	}
	return nil
}
