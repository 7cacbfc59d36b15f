<?php
/**
 * What the relay's status API said, read into plain values for the admin pages.
 *
 * Pure: built from the HTTP results (code, body, transport error) of GET /api/status and
 * GET /api/messages?status=failed. The shapes are in docs/status-page.md ("JSON API").
 *
 * @package GmailRelayBridge
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'GMAIL_RELAY_BRIDGE_TESTING' ) ) {
	exit;
}

/**
 * A snapshot of the relay's health.
 */
final class Gmail_Relay_Bridge_Status {

	/** Account states the relay reports. */
	const STATES = array( 'ok', 'needs_reauth', 'blocked', 'unconfigured' );

	/** How many failed messages the admin pages list. */
	const RECENT_FAILURES = 10;

	/** @var string The URL of /api/status that was tried. */
	public $url = '';

	/** @var bool Whether /api/status answered with the relay's JSON. */
	public $reachable = false;

	/** @var string Why the status is unknown ('' when reachable). */
	public $error = '';

	/** @var array<int,array<string,mixed>> name, email, kind, state, token_expires_at, last_success_at, problem|null, warning|null, messages (queued, held, failed) */
	public $accounts = array();

	/** @var array<string,int> queued, held, failed, sent_24h */
	public $queue = array(
		'queued'   => 0,
		'held'     => 0,
		'failed'   => 0,
		'sent_24h' => 0,
	);

	/** @var array<int,array<string,mixed>> Newest failed messages: id, account, recipients, subject, problem, created_at. */
	public $failures = array();

	/** @var string Why the failure list is missing ('' when it was read). */
	public $failures_error = '';

	/** @var int Unix time of the fetch. */
	public $fetched_at = 0;

	/**
	 * @param string              $base_url The status URL setting (no trailing slash).
	 * @param array<string,mixed> $status   HTTP result of /api/status: code (int), body (string), error (string).
	 * @param array<string,mixed> $failed   HTTP result of /api/messages?status=failed, or null when not fetched.
	 * @param int                 $now      Unix time.
	 * @return self
	 */
	public static function from_results( $base_url, array $status, $failed, $now ) {
		$snapshot             = new self();
		$snapshot->url        = self::status_url( $base_url );
		$snapshot->fetched_at = (int) $now;

		$problem = self::http_problem( $status, $snapshot->url );
		if ( '' !== $problem ) {
			$snapshot->error = $problem;
			return $snapshot;
		}
		$document = json_decode( (string) $status['body'], true );
		if ( ! is_array( $document ) || ! isset( $document['accounts'] ) || ! is_array( $document['accounts'] ) ) {
			/* translators: %s: URL. */
			$snapshot->error = sprintf( __( '%s answered, but not with gmail-relay\'s status JSON. Is the status URL the relay\'s web.listen address?', 'gmail-relay-bridge' ), $snapshot->url );
			return $snapshot;
		}
		$snapshot->reachable = true;
		foreach ( $document['accounts'] as $account ) {
			if ( is_array( $account ) ) {
				$snapshot->accounts[] = self::account( $account );
			}
		}
		if ( isset( $document['queue'] ) && is_array( $document['queue'] ) ) {
			foreach ( array_keys( $snapshot->queue ) as $key ) {
				if ( isset( $document['queue'][ $key ] ) && is_numeric( $document['queue'][ $key ] ) ) {
					$snapshot->queue[ $key ] = (int) $document['queue'][ $key ];
				}
			}
		}

		if ( is_array( $failed ) ) {
			$failed_url = self::failed_messages_url( $base_url );
			$problem    = self::http_problem( $failed, $failed_url );
			$list       = '' === $problem ? json_decode( (string) $failed['body'], true ) : null;
			if ( is_array( $list ) && isset( $list['messages'] ) && is_array( $list['messages'] ) ) {
				$list = $list['messages'];
			}
			if ( '' !== $problem ) {
				$snapshot->failures_error = $problem;
			} elseif ( ! is_array( $list ) || ( array() !== $list && ! isset( $list[0] ) ) ) {
				/* translators: %s: URL. */
				$snapshot->failures_error = sprintf( __( '%s did not answer with a list of messages.', 'gmail-relay-bridge' ), $failed_url );
			} else {
				foreach ( array_slice( $list, 0, self::RECENT_FAILURES ) as $message ) {
					if ( is_array( $message ) ) {
						$snapshot->failures[] = self::message( $message );
					}
				}
			}
		}
		return $snapshot;
	}

	/**
	 * A snapshot for a status URL the bridge would not ask (nothing was requested).
	 *
	 * @param string $base_url The status URL setting.
	 * @param string $reason   Why, in a sentence.
	 * @param int    $now      Unix time.
	 * @return self
	 */
	public static function not_asked( $base_url, $reason, $now ) {
		$snapshot             = new self();
		$snapshot->url        = self::status_url( $base_url );
		$snapshot->error      = (string) $reason;
		$snapshot->fetched_at = (int) $now;
		return $snapshot;
	}

	/**
	 * @param string $base_url Status URL setting.
	 * @return string
	 */
	public static function status_url( $base_url ) {
		return rtrim( (string) $base_url, '/' ) . '/api/status';
	}

	/**
	 * @param string $base_url Status URL setting.
	 * @return string
	 */
	public static function failed_messages_url( $base_url ) {
		return rtrim( (string) $base_url, '/' ) . '/api/messages?status=failed&limit=' . self::RECENT_FAILURES;
	}

	/**
	 * Accounts that need reauthorization or are blocked (their mail is held).
	 *
	 * @return array<int,array<string,mixed>>
	 */
	public function accounts_needing_attention() {
		return array_values(
			array_filter(
				$this->accounts,
				static function ( $account ) {
					return in_array( $account['state'], array( 'needs_reauth', 'blocked' ), true );
				}
			)
		);
	}

	/**
	 * The relay account that sends as this address (a site's From is its login's account's address).
	 *
	 * @param string $address Email address.
	 * @return array<string,mixed>|null The account, null when none has the address.
	 */
	public function account_with_email( $address ) {
		$address = strtolower( trim( (string) $address ) );
		if ( '' === $address ) {
			return null;
		}
		foreach ( $this->accounts as $account ) {
			if ( strtolower( $account['email'] ) === $address ) {
				return $account;
			}
		}
		return null;
	}

	/**
	 * Whether the admin notice is due: an account needs reauthorization or mail is held.
	 *
	 * @return bool
	 */
	public function needs_attention() {
		return $this->reachable && ( $this->queue['held'] > 0 || array() !== $this->accounts_needing_attention() );
	}

	/**
	 * A plain sentence for an HTTP result that is not a 200, or ''.
	 *
	 * @param array<string,mixed> $result code, body, error.
	 * @param string              $url    What was requested.
	 * @return string
	 */
	private static function http_problem( array $result, $url ) {
		$code = isset( $result['code'] ) ? (int) $result['code'] : 0;
		if ( ! empty( $result['error'] ) ) {
			/* translators: 1: URL, 2: the HTTP client's error. */
			return sprintf( __( 'The relay could not be reached at %1$s: %2$s', 'gmail-relay-bridge' ), $url, (string) $result['error'] );
		}
		if ( 401 === $code || 403 === $code ) {
			/* translators: 1: URL, 2: HTTP status. */
			return sprintf( __( 'The relay at %1$s refused the token (HTTP %2$d). Set GMAIL_RELAY_READ_TOKEN to the relay\'s web.read_token.', 'gmail-relay-bridge' ), $url, $code );
		}
		if ( 404 === $code ) {
			/* translators: %s: URL. */
			return sprintf( __( 'There is no status API at %s (HTTP 404). Is the status URL the relay\'s web.listen address?', 'gmail-relay-bridge' ), $url );
		}
		if ( 200 !== $code ) {
			/* translators: 1: URL, 2: HTTP status. */
			return sprintf( __( 'The relay at %1$s answered HTTP %2$d.', 'gmail-relay-bridge' ), $url, $code );
		}
		return '';
	}

	/**
	 * @param array<string,mixed> $raw An element of accounts[].
	 * @return array<string,mixed>
	 */
	private static function account( array $raw ) {
		$state   = self::text( $raw, 'state' );
		$problem = null;
		if ( isset( $raw['problem'] ) && is_array( $raw['problem'] ) ) {
			$problem = array(
				'code'        => self::text( $raw['problem'], 'code' ),
				'title'       => self::text( $raw['problem'], 'title' ),
				'explanation' => self::text( $raw['problem'], 'explanation' ),
				'causes'      => self::texts( $raw['problem'], 'causes' ),
				'steps'       => self::texts( $raw['problem'], 'steps' ),
			);
		}
		// A grant known or likely to end soon (Testing-mode apps end grants 7 days after consent).
		$warning = null;
		if ( isset( $raw['warning'] ) && is_array( $raw['warning'] ) && '' !== self::text( $raw['warning'], 'text' ) ) {
			$warning = array(
				'level'      => self::text( $raw['warning'], 'level' ),
				'expires_at' => self::text( $raw['warning'], 'expires_at' ),
				'text'       => self::text( $raw['warning'], 'text' ),
			);
		}
		// This account's own mail (the relay reports it per account since the queue has several).
		$messages = array(
			'queued' => 0,
			'held'   => 0,
			'failed' => 0,
		);
		if ( isset( $raw['messages'] ) && is_array( $raw['messages'] ) ) {
			foreach ( array_keys( $messages ) as $key ) {
				if ( isset( $raw['messages'][ $key ] ) && is_numeric( $raw['messages'][ $key ] ) ) {
					$messages[ $key ] = max( 0, (int) $raw['messages'][ $key ] );
				}
			}
		}
		return array(
			'name'             => self::text( $raw, 'name' ),
			'email'            => self::text( $raw, 'email' ),
			'kind'             => self::text( $raw, 'kind' ),
			'state'            => in_array( $state, self::STATES, true ) ? $state : 'unknown',
			'token_expires_at' => self::text( $raw, 'token_expires_at' ),
			'last_success_at'  => self::text( $raw, 'last_success_at' ),
			'problem'          => $problem,
			'warning'          => $warning,
			'messages'         => $messages,
		);
	}

	/**
	 * @param array<string,mixed> $raw JSON object.
	 * @param string              $key Key of a list of strings.
	 * @return string[] Its scalar elements as text.
	 */
	private static function texts( array $raw, $key ) {
		$texts = array();
		if ( isset( $raw[ $key ] ) && is_array( $raw[ $key ] ) ) {
			foreach ( $raw[ $key ] as $item ) {
				if ( is_scalar( $item ) ) {
					$texts[] = (string) $item;
				}
			}
		}
		return $texts;
	}

	/**
	 * @param array<string,mixed> $raw An element of the message list.
	 * @return array<string,mixed>
	 */
	private static function message( array $raw ) {
		$recipients = array();
		if ( isset( $raw['recipients'] ) && is_array( $raw['recipients'] ) ) {
			foreach ( $raw['recipients'] as $recipient ) {
				if ( is_scalar( $recipient ) ) {
					$recipients[] = (string) $recipient;
				}
			}
		}
		return array(
			'id'         => isset( $raw['id'] ) && is_numeric( $raw['id'] ) ? (int) $raw['id'] : 0,
			'account'    => self::text( $raw, 'account' ),
			'recipients' => $recipients,
			'subject'    => self::text( $raw, 'subject' ),
			'problem'    => self::text( $raw, 'problem' ),
			'created_at' => self::text( $raw, 'created_at' ),
		);
	}

	/**
	 * @param array<string,mixed> $raw JSON object.
	 * @param string              $key Key.
	 * @return string The value as text, '' when missing or not scalar.
	 */
	private static function text( array $raw, $key ) {
		return isset( $raw[ $key ] ) && is_scalar( $raw[ $key ] ) ? (string) $raw[ $key ] : '';
	}
}
