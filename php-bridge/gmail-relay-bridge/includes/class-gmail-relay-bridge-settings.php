<?php
/**
 * The bridge's settings: where each value comes from (a wp-config.php constant, the settings
 * page, or the default), whether it is valid, and what the settings page may store.
 *
 * On a multisite network the settings page is the network admin's, and a site may have a login of
 * its own there (user, password, From): constant > the site's own login > the network's settings
 * > default. A site's login is taken whole: with GMAIL_RELAY_USER or GMAIL_RELAY_PASS in
 * wp-config.php it is not used at all, so a login is never paired with another login's password.
 *
 * Pure: the constant lookup, the stored option and the secret box come in as arguments, so the
 * rules are unit-tested without WordPress.
 *
 * @package GmailRelayBridge
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'GMAIL_RELAY_BRIDGE_TESTING' ) ) {
	exit;
}

/**
 * Resolved, validated settings.
 */
final class Gmail_Relay_Bridge_Settings {

	/** The wp_options row the settings page writes. */
	const OPTION = 'gmail_relay_bridge_settings';

	/** Field => wp-config.php constant. */
	const CONSTANTS = array(
		'host'        => 'GMAIL_RELAY_HOST',
		'port'        => 'GMAIL_RELAY_PORT',
		'user'        => 'GMAIL_RELAY_USER',
		'pass'        => 'GMAIL_RELAY_PASS',
		'security'    => 'GMAIL_RELAY_SECURITY',
		'from'        => 'GMAIL_RELAY_FROM',
		'status_url'  => 'GMAIL_RELAY_STATUS_URL',
		'read_token'  => 'GMAIL_RELAY_READ_TOKEN',
		'tls_ca_file' => 'GMAIL_RELAY_TLS_CA_FILE',
	);

	/**
	 * Older constant names still read when the current one is not defined. The plugin only reads
	 * the status API, so the relay's web.read_token is enough; its web.admin_token works too.
	 */
	const LEGACY_CONSTANTS = array( 'read_token' => 'GMAIL_RELAY_ADMIN_TOKEN' );

	/** Older keys in the stored option: read when the current key is absent, replaced on the next save. */
	const LEGACY_KEYS = array( 'read_token' => 'admin_token' );

	/** Fields stored encrypted and never echoed back into a page. */
	const SECRETS = array( 'pass', 'read_token' );

	/**
	 * Secret => the fields that say where it is sent. A secret from wp-config.php goes only where
	 * wp-config.php (or the built-in default) says: otherwise an administrator of the site, or of
	 * one site of a network, could point the host or the status URL at a server of their own and
	 * receive the secret.
	 */
	const SECRET_DESTINATIONS = array(
		'pass'       => array( 'host', 'port' ),
		'read_token' => array( 'status_url' ),
	);

	/** none: plain SMTP (loopback); starttls: upgrade on the submission port; tls: implicit TLS (smtp.tls_listen). */
	const SECURITY_VALUES = array( 'none', 'starttls', 'tls' );

	/** The relay's own defaults (smtp.listen, web.listen). */
	const DEFAULTS = array(
		'host'        => '127.0.0.1',
		'port'        => 2525,
		'user'        => '',
		'pass'        => '',
		'security'    => 'none',
		'from'        => '',
		'status_url'  => 'http://127.0.0.1:8025',
		'read_token'  => '',
		'tls_ca_file' => '',
	);

	/** The fields a site's own login (network settings, per site) sets. */
	const SITE_LOGIN_FIELDS = array( 'user', 'pass', 'from' );

	/** The network option (wp_sitemeta) holding each site's login: site id => user, pass (sealed), from. */
	const SITE_LOGINS_OPTION = 'gmail_relay_bridge_site_logins';

	/** Needed before the bridge routes mail. */
	const REQUIRED = array( 'host', 'port', 'user', 'pass' );

	/** @var array<string,mixed> */
	private $values;

	/** @var array<string,string> field => constant|site|option|default */
	private $sources;

	/** @var string The constant that made the bridge ignore this site's own login, or ''. */
	private $site_login_ignored_by = '';

	/** @var array<string,string> field => why the value is unusable */
	private $errors;

	/** @var array<string,string> field => the constant that set it (a legacy name included) */
	private $constant_names;

	/**
	 * @param array<string,mixed>  $values         Field values.
	 * @param array<string,string> $sources        Where each came from.
	 * @param array<string,string> $errors         Invalid fields.
	 * @param array<string,string> $constant_names Constants that set fields.
	 */
	private function __construct( array $values, array $sources, array $errors, array $constant_names ) {
		$this->values         = $values;
		$this->sources        = $sources;
		$this->errors         = $errors;
		$this->constant_names = $constant_names;
	}

	/**
	 * The constant that sets a field: its own name, else its legacy name.
	 *
	 * @param callable $constant Name => value, or null when the constant is not defined.
	 * @param string   $field    Field name.
	 * @return array{name:string,value:mixed}|null Null when neither is defined.
	 */
	private static function constant_for( callable $constant, $field ) {
		$names = array( self::CONSTANTS[ $field ] );
		if ( isset( self::LEGACY_CONSTANTS[ $field ] ) ) {
			$names[] = self::LEGACY_CONSTANTS[ $field ];
		}
		foreach ( $names as $name ) {
			$value = $constant( $name );
			if ( null !== $value ) {
				return array(
					'name'  => $name,
					'value' => $value,
				);
			}
		}
		return null;
	}

	/**
	 * A field's stored value, under its current key or its legacy one.
	 *
	 * @param array<string,mixed> $stored The option.
	 * @param string              $field  Field name.
	 * @return mixed|null Null when absent.
	 */
	private static function stored_value( array $stored, $field ) {
		if ( array_key_exists( $field, $stored ) ) {
			return $stored[ $field ];
		}
		if ( isset( self::LEGACY_KEYS[ $field ] ) && array_key_exists( self::LEGACY_KEYS[ $field ], $stored ) ) {
			return $stored[ self::LEGACY_KEYS[ $field ] ];
		}
		return null;
	}

	/**
	 * A constant wins over the settings page, the settings page over the default. On a network,
	 * the site's own login (user, pass, from) comes between the constants and the network's page.
	 *
	 * @param callable                      $constant   Name => value, or null when the constant is not defined.
	 * @param mixed                         $stored     The option (array; anything else counts as empty);
	 *                                                  on a network the network's option.
	 * @param Gmail_Relay_Bridge_Secret_Box $box        Opens the stored secrets.
	 * @param mixed                         $site_login On a network: this site's entry of SITE_LOGINS_OPTION
	 *                                                  (user, pass sealed, from), null when it has none.
	 * @return self
	 */
	public static function resolve( callable $constant, $stored, Gmail_Relay_Bridge_Secret_Box $box, $site_login = null ) {
		$stored         = is_array( $stored ) ? $stored : array();
		$values         = array();
		$sources        = array();
		$errors         = array();
		$constant_names = array();
		$ignored_by     = '';
		$from_site      = array();
		if ( is_array( $site_login ) && isset( $site_login['user'] ) && is_scalar( $site_login['user'] ) && '' !== trim( (string) $site_login['user'] ) ) {
			foreach ( array( 'user', 'pass' ) as $field ) {
				$defined = self::constant_for( $constant, $field );
				if ( null !== $defined && '' === $ignored_by ) {
					$ignored_by = $defined['name'];
				}
			}
			if ( '' === $ignored_by ) {
				// Taken whole: the site's login never gets the network's password.
				foreach ( self::SITE_LOGIN_FIELDS as $field ) {
					$value = isset( $site_login[ $field ] ) && is_scalar( $site_login[ $field ] ) ? (string) $site_login[ $field ] : '';
					if ( '' !== $value ) {
						$from_site[ $field ] = $value;
					} elseif ( 'from' !== $field ) {
						$from_site[ $field ] = null; // Missing, not the network's.
					}
				}
			}
		}
		foreach ( array_keys( self::CONSTANTS ) as $field ) {
			$from_constant = self::constant_for( $constant, $field );
			$from_option   = array_key_exists( $field, $from_site ) ? $from_site[ $field ] : self::stored_value( $stored, $field );
			if ( null !== $from_constant ) {
				$raw                      = $from_constant['value'];
				$sources[ $field ]        = 'constant';
				$constant_names[ $field ] = $from_constant['name'];
			} elseif ( null !== $from_option && '' !== $from_option ) {
				$raw              = $from_option;
				$sources[ $field ] = array_key_exists( $field, $from_site ) ? 'site' : 'option';
				if ( in_array( $field, self::SECRETS, true ) ) {
					$raw = $box->open( $raw );
					if ( null === $raw ) {
						$raw              = '';
						$errors[ $field ] = __( 'The stored value cannot be decrypted (were the secret keys in wp-config.php changed?). Enter it again.', 'gmail-relay-bridge' );
					}
				}
			} else {
				$raw              = self::DEFAULTS[ $field ];
				$sources[ $field ] = 'default';
			}
			$checked = self::check( $field, $raw );
			if ( is_string( $checked['error'] ) && ! isset( $errors[ $field ] ) ) {
				$errors[ $field ] = $checked['error'];
			}
			$values[ $field ] = $checked['value'];
		}
		foreach ( self::SECRET_DESTINATIONS as $secret => $destinations ) {
			if ( 'constant' !== $sources[ $secret ] || '' === (string) $values[ $secret ] ) {
				continue;
			}
			foreach ( $destinations as $field ) {
				if ( 'option' === $sources[ $field ] ) {
					$errors[ $field ] = sprintf(
						/* translators: 1: constant such as GMAIL_RELAY_PASS, 2: constant such as GMAIL_RELAY_HOST. */
						__( '%1$s is defined in wp-config.php, so %2$s must be too: a secret from wp-config.php is only sent where wp-config.php says. Define %2$s there (the value on the settings page is not used).', 'gmail-relay-bridge' ),
						$constant_names[ $secret ],
						self::CONSTANTS[ $field ]
					);
				}
			}
		}
		$settings                        = new self( $values, $sources, $errors, $constant_names );
		$settings->site_login_ignored_by = $ignored_by;
		return $settings;
	}

	/**
	 * Normalises one value and says what is wrong with it.
	 *
	 * @param string $field Field name.
	 * @param mixed  $raw   Value from a constant, the option or the form.
	 * @return array{value:mixed,error:string|null}
	 */
	public static function check( $field, $raw ) {
		if ( ! is_scalar( $raw ) ) {
			/* translators: %s: setting name such as "host". */
			return array( 'value' => self::DEFAULTS[ $field ], 'error' => sprintf( __( '%s must be text.', 'gmail-relay-bridge' ), $field ) );
		}
		switch ( $field ) {
			case 'host':
				$host = trim( (string) $raw );
				if ( '' === $host || ! preg_match( '/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.\-]*|[0-9A-Fa-f:]+)$/', $host ) ) {
					return array( 'value' => $host, 'error' => __( 'The relay host must be a host name or an IP address, such as 127.0.0.1.', 'gmail-relay-bridge' ) );
				}
				return array( 'value' => $host, 'error' => null );
			case 'port':
				$port = trim( (string) $raw );
				if ( ! preg_match( '/^[0-9]{1,5}$/', $port ) || (int) $port < 1 || (int) $port > 65535 ) {
					return array( 'value' => 0, 'error' => __( 'The relay port must be a number from 1 to 65535 (the relay listens on 2525 by default).', 'gmail-relay-bridge' ) );
				}
				return array( 'value' => (int) $port, 'error' => null );
			case 'user':
			case 'read_token':
				$text = trim( (string) $raw );
				if ( preg_match( '/[\x00-\x1F\x7F]/', $text ) ) {
					return array( 'value' => '', 'error' => __( 'Control characters are not allowed here.', 'gmail-relay-bridge' ) );
				}
				return array( 'value' => $text, 'error' => null );
			case 'pass':
				// Kept as typed: a password may end in a space.
				$text = (string) $raw;
				if ( preg_match( '/[\x00\r\n]/', $text ) ) {
					return array( 'value' => '', 'error' => __( 'The SMTP password cannot contain line breaks.', 'gmail-relay-bridge' ) );
				}
				return array( 'value' => $text, 'error' => null );
			case 'security':
				$security = strtolower( trim( (string) $raw ) );
				if ( ! in_array( $security, self::SECURITY_VALUES, true ) ) {
					return array(
						'value' => 'none',
						/* translators: %s: the value that was given. */
						'error' => sprintf( __( 'Security "%s" is not one of none, starttls, tls.', 'gmail-relay-bridge' ), (string) $raw ),
					);
				}
				return array( 'value' => $security, 'error' => null );
			case 'from':
				$from = trim( (string) $raw );
				if ( '' !== $from && false === filter_var( $from, FILTER_VALIDATE_EMAIL ) ) {
					/* translators: %s: the value that was given. */
					return array( 'value' => '', 'error' => sprintf( __( 'The From address "%s" is not an email address.', 'gmail-relay-bridge' ), $from ) );
				}
				return array( 'value' => $from, 'error' => null );
			case 'status_url':
				$url = rtrim( trim( (string) $raw ), '/' );
				if ( '' !== $url && ! preg_match( '#^https?://[^\s/?\#]+(/[^\s?\#]*)?$#i', $url ) ) {
					return array( 'value' => '', 'error' => __( 'The status URL must be the relay\'s web address, such as http://127.0.0.1:8025.', 'gmail-relay-bridge' ) );
				}
				return array( 'value' => $url, 'error' => null );
			case 'tls_ca_file':
				$path = trim( (string) $raw );
				if ( '' !== $path && ! is_readable( $path ) ) {
					/* translators: %s: file path. */
					return array( 'value' => '', 'error' => sprintf( __( 'The certificate file %s cannot be read.', 'gmail-relay-bridge' ), $path ) );
				}
				return array( 'value' => $path, 'error' => null );
		}
		return array( 'value' => $raw, 'error' => null );
	}

	/**
	 * What the settings page stores: submitted fields checked and secrets sealed. A field set by a
	 * constant, an empty secret field, and an invalid value keep what was stored before, so a
	 * mistake never wipes a working setting.
	 *
	 * @param mixed                         $input    $_POST's option array.
	 * @param mixed                         $previous The option before saving.
	 * @param callable                      $constant Name => value or null.
	 * @param Gmail_Relay_Bridge_Secret_Box $box      Seals secrets.
	 * @return array{stored:array<string,string>,errors:array<string,string>}
	 */
	public static function sanitize_input( $input, $previous, callable $constant, Gmail_Relay_Bridge_Secret_Box $box ) {
		$input    = is_array( $input ) ? $input : array();
		$previous = is_array( $previous ) ? $previous : array();
		$stored   = array();
		$errors   = array();
		foreach ( self::LEGACY_KEYS as $field => $legacy ) {
			// A form or a sealed value from before the rename.
			foreach ( array( '', 'clear_' ) as $prefix ) {
				if ( ! array_key_exists( $prefix . $field, $input ) && array_key_exists( $prefix . $legacy, $input ) ) {
					$input[ $prefix . $field ] = $input[ $prefix . $legacy ];
				}
			}
		}
		foreach ( array_keys( self::CONSTANTS ) as $field ) {
			$before = self::stored_value( $previous, $field );
			$before = is_scalar( $before ) ? (string) $before : '';
			if ( null !== self::constant_for( $constant, $field ) || ! array_key_exists( $field, $input ) ) {
				$stored[ $field ] = $before;
				continue;
			}
			$raw = is_scalar( $input[ $field ] ) ? (string) $input[ $field ] : null;
			if ( in_array( $field, self::SECRETS, true ) ) {
				if ( ! empty( $input[ 'clear_' . $field ] ) ) {
					$stored[ $field ] = '';
					continue;
				}
				if ( null === $raw || '' === $raw ) {
					$stored[ $field ] = $before;
					continue;
				}
				// Already sealed: WordPress sanitises a new option twice (update_option, then add_option).
				if ( null !== $box->open( $raw ) ) {
					$stored[ $field ] = $raw;
					continue;
				}
			}
			$checked = self::check( $field, $raw );
			if ( is_string( $checked['error'] ) ) {
				$errors[ $field ]  = $checked['error'];
				$stored[ $field ] = $before;
				continue;
			}
			$value            = (string) $checked['value'];
			$stored[ $field ] = in_array( $field, self::SECRETS, true ) ? $box->seal( $value ) : $value;
		}
		return array( 'stored' => $stored, 'errors' => $errors );
	}

	/**
	 * What the network settings page stores for the sites' own logins. A site whose login field is
	 * emptied loses its entry (it then uses the network's login); an empty password keeps the
	 * stored one; a site the form did not list keeps its entry; a site that no longer exists loses it.
	 *
	 * @param mixed                         $input    Site id => user, pass, clear_pass, from.
	 * @param mixed                         $previous The option before saving.
	 * @param int[]                         $site_ids The network's sites.
	 * @param Gmail_Relay_Bridge_Secret_Box $box      Seals the passwords.
	 * @return array{stored:array<int,array<string,string>>,errors:array<int,array<string,string>>} Errors by site id and field.
	 */
	public static function sanitize_site_logins( $input, $previous, array $site_ids, Gmail_Relay_Bridge_Secret_Box $box ) {
		$input    = is_array( $input ) ? $input : array();
		$previous = is_array( $previous ) ? $previous : array();
		$stored   = array();
		$errors   = array();
		foreach ( $site_ids as $site_id ) {
			$site_id = (int) $site_id;
			$before  = isset( $previous[ $site_id ] ) && is_array( $previous[ $site_id ] ) ? $previous[ $site_id ] : array();
			$before  = array(
				'user' => isset( $before['user'] ) && is_scalar( $before['user'] ) ? (string) $before['user'] : '',
				'pass' => isset( $before['pass'] ) && is_scalar( $before['pass'] ) ? (string) $before['pass'] : '',
				'from' => isset( $before['from'] ) && is_scalar( $before['from'] ) ? (string) $before['from'] : '',
			);
			if ( ! isset( $input[ $site_id ] ) || ! is_array( $input[ $site_id ] ) ) {
				if ( '' !== $before['user'] ) {
					$stored[ $site_id ] = $before;
				}
				continue;
			}
			$row   = $input[ $site_id ];
			$entry = $before;
			foreach ( array( 'user', 'from' ) as $field ) {
				$raw     = isset( $row[ $field ] ) && is_scalar( $row[ $field ] ) ? (string) $row[ $field ] : '';
				$checked = self::check( $field, $raw );
				if ( is_string( $checked['error'] ) ) {
					$errors[ $site_id ][ $field ] = $checked['error'];
					continue;
				}
				$entry[ $field ] = (string) $checked['value'];
			}
			$pass = isset( $row['pass'] ) && is_scalar( $row['pass'] ) ? (string) $row['pass'] : '';
			if ( ! empty( $row['clear_pass'] ) ) {
				$entry['pass'] = '';
			} elseif ( '' !== $pass && null !== $box->open( $pass ) ) {
				$entry['pass'] = $pass; // Already sealed (sanitised twice).
			} elseif ( '' !== $pass ) {
				$checked = self::check( 'pass', $pass );
				if ( is_string( $checked['error'] ) ) {
					$errors[ $site_id ]['pass'] = $checked['error'];
				} else {
					$entry['pass'] = $box->seal( (string) $checked['value'] );
				}
			}
			if ( '' !== $entry['user'] ) {
				$stored[ $site_id ] = $entry;
			}
		}
		return array( 'stored' => $stored, 'errors' => $errors );
	}

	/**
	 * @return string The constant (GMAIL_RELAY_USER or GMAIL_RELAY_PASS) that made the bridge
	 *                ignore this site's own login, or '' when it was used or there is none.
	 */
	public function site_login_ignored_by() {
		return $this->site_login_ignored_by;
	}

	/**
	 * @param string $field Field name.
	 * @return mixed
	 */
	public function get( $field ) {
		return $this->values[ $field ];
	}

	/**
	 * @param string $field Field name.
	 * @return string constant, site (this site's own login on a network), option (the settings
	 *                page; the network's on a network) or default.
	 */
	public function source( $field ) {
		return $this->sources[ $field ];
	}

	/**
	 * @param string $field Field name.
	 * @return string The constant that sets the field (GMAIL_RELAY_ADMIN_TOKEN for an older
	 *                site's token), or the name to define when no constant does.
	 */
	public function constant_name( $field ) {
		return isset( $this->constant_names[ $field ] ) ? $this->constant_names[ $field ] : self::CONSTANTS[ $field ];
	}

	/**
	 * @return array<string,string> Field => error.
	 */
	public function errors() {
		return $this->errors;
	}

	/**
	 * @return string[] Required fields that are empty.
	 */
	public function missing() {
		$missing = array();
		foreach ( self::REQUIRED as $field ) {
			if ( '' === (string) $this->values[ $field ] || 0 === $this->values[ $field ] ) {
				$missing[] = $field;
			}
		}
		return $missing;
	}

	/**
	 * Ready to route mail: every required field present and no SMTP field invalid.
	 *
	 * @return bool
	 */
	public function can_send() {
		if ( array() !== $this->missing() ) {
			return false;
		}
		foreach ( array( 'host', 'port', 'user', 'pass', 'security', 'from', 'tls_ca_file' ) as $field ) {
			if ( isset( $this->errors[ $field ] ) ) {
				return false;
			}
		}
		return true;
	}
}
